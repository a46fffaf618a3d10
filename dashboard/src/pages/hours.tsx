import { useMemo } from 'preact/hooks';
import { WEEKDAYS, type DateException, type Interval, type Store, type Weekday, type WeeklyHours } from '../api';
import { useI18n } from '../i18n';
import { fieldId, type Errors } from '../components/ui';
import { Icon } from '../components/icons';

/** Weekday names in the UI language: 2024-01-01 was a Monday. */
export function useWeekdayNames(style: 'long' | 'short' = 'long'): Record<Weekday, string> {
  const { lang } = useI18n();
  return useMemo(() => {
    const f = new Intl.DateTimeFormat(lang, { weekday: style, timeZone: 'UTC' });
    const out = {} as Record<Weekday, string>;
    WEEKDAYS.forEach((d, i) => { out[d] = f.format(new Date(Date.UTC(2024, 0, 1 + i))); });
    return out;
  }, [lang, style]);
}

/** "9" → "09:00", "930" → "09:30", "9.30" → "09:30"; anything else is returned as typed. */
export function normalizeTime(v: string): string {
  const s = v.trim().replace(/[.h]/g, ':');
  const m = s.match(/^(\d{1,2})(?::?(\d{2}))?$/);
  if (!m) return v.trim();
  const h = Number(m[1]);
  const min = m[2] ? Number(m[2]) : 0;
  if (h > 24 || min > 59 || (h === 24 && min > 0)) return v.trim();
  return `${String(h).padStart(2, '0')}:${String(min).padStart(2, '0')}`;
}
export const TIME_RE = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

const same = (a: Interval[] = [], b: Interval[] = []) =>
  a.length === b.length && a.every((x, i) => x.open === b[i].open && x.close === b[i].close);

/** "Mon–Fri 09:00–18:00 · Sat 10:00–16:00 · Sun closed" */
export function useHoursSummary() {
  const { t } = useI18n();
  const short = useWeekdayNames('short');
  return (hours: WeeklyHours): string => {
    const parts: string[] = [];
    let i = 0;
    while (i < 7) {
      let j = i;
      while (j + 1 < 7 && same(hours[WEEKDAYS[i]], hours[WEEKDAYS[j + 1]])) j++;
      const iv = hours[WEEKDAYS[i]] ?? [];
      const days = i === j ? short[WEEKDAYS[i]] : `${short[WEEKDAYS[i]]}–${short[WEEKDAYS[j]]}`;
      const text = iv.length === 0 ? t('hours.closed')
        : iv.length === 1 && iv[0].open === '00:00' && iv[0].close === '24:00' ? t('hours.allDay')
        : iv.map((x) => `${x.open}–${x.close}`).join(', ');
      parts.push(`${days} ${text}`);
      i = j + 1;
    }
    return parts.join(' · ');
  };
}

function IntervalRow({ base, iv, index, errors, onChange, onRemove, dayLabel }: {
  base: string; iv: Interval; index: number; errors: Errors; dayLabel: string;
  onChange: (iv: Interval) => void; onRemove: () => void;
}) {
  const { t } = useI18n();
  const name = `${base}[${index}]`;
  const err = errors[name] ?? errors[name + '.open'] ?? errors[name + '.close'];
  const errId = err ? fieldId(name) + '-error' : undefined;
  return (
    <div class={'interval' + (err ? ' has-error' : '')}>
      <div class="interval-inputs">
        <label class="visually-hidden" for={fieldId(name + '.open')}>{t('hours.opensAt', { day: dayLabel, n: index + 1 })}</label>
        <input id={fieldId(name + '.open')} class="time" inputMode="numeric" placeholder="09:00" maxLength={5} value={iv.open}
          aria-invalid={err ? true : undefined} aria-describedby={errId}
          onInput={(e) => onChange({ ...iv, open: (e.target as HTMLInputElement).value })}
          onBlur={(e) => onChange({ ...iv, open: normalizeTime((e.target as HTMLInputElement).value) })} />
        <span aria-hidden="true" class="dash">–</span>
        <label class="visually-hidden" for={fieldId(name + '.close')}>{t('hours.closesAt', { day: dayLabel, n: index + 1 })}</label>
        <input id={fieldId(name + '.close')} class="time" inputMode="numeric" placeholder="18:00" maxLength={5} value={iv.close}
          aria-invalid={err ? true : undefined} aria-describedby={errId}
          onInput={(e) => onChange({ ...iv, close: (e.target as HTMLInputElement).value })}
          onBlur={(e) => onChange({ ...iv, close: normalizeTime((e.target as HTMLInputElement).value) })} />
        <button type="button" class="icon-btn" onClick={onRemove} aria-label={t('hours.removeInterval', { day: dayLabel, n: index + 1 })}>
          <Icon name="trash" size={18} />
        </button>
      </div>
      {err && <p class="field-error" id={errId}><Icon name="alert" size={16} />{err}</p>}
    </div>
  );
}

function Intervals({ base, list, onChange, errors, dayLabel }: {
  base: string; list: Interval[]; onChange: (l: Interval[]) => void; errors: Errors; dayLabel: string;
}) {
  const { t } = useI18n();
  const add = () => {
    const last = list[list.length - 1];
    onChange([...list, last ? { open: last.close === '24:00' ? '23:00' : last.close, close: last.close === '24:00' ? '24:00' : '20:00' } : { open: '09:00', close: '18:00' }]);
  };
  return (
    <div class="intervals">
      {list.map((iv, i) => (
        <IntervalRow key={i} base={base} iv={iv} index={i} errors={errors} dayLabel={dayLabel}
          onChange={(n) => onChange(list.map((x, j) => (j === i ? n : x)))}
          onRemove={() => onChange(list.filter((_, j) => j !== i))} />
      ))}
      <button type="button" class="btn btn-ghost btn-small add-interval" onClick={add}
        aria-label={t('hours.addIntervalFor', { day: dayLabel })}>
        <Icon name="plus" size={16} />{t('hours.addInterval')}
      </button>
    </div>
  );
}

export function HoursEditor({ hours, onChange, errors }: { hours: WeeklyHours; onChange: (h: WeeklyHours) => void; errors: Errors }) {
  const { t } = useI18n();
  const names = useWeekdayNames('long');
  const set = (d: Weekday, l: Interval[]) => onChange({ ...hours, [d]: l });
  const copyMonday = () => {
    const mon = hours.monday ?? [];
    const next = { ...hours };
    (['tuesday', 'wednesday', 'thursday', 'friday'] as Weekday[]).forEach((d) => { next[d] = mon.map((x) => ({ ...x })); });
    onChange(next);
  };
  const dayError = (d: Weekday) => errors[`hours.${d}`];
  return (
    <div class="hours-editor">
      <div class="hours-toolbar">
        <button type="button" class="btn btn-secondary btn-small" onClick={copyMonday}>
          <Icon name="copy" size={16} />{t('hours.copyMonday')}
        </button>
      </div>
      <ul class="days">
        {WEEKDAYS.map((d) => {
          const list = hours[d] ?? [];
          const open = list.length > 0;
          const swId = fieldId(`hours.${d}`);
          return (
            <li key={d} class={'day' + (open ? '' : ' is-closed')}>
              <div class="day-head">
                <span class="day-name" id={swId + '-name'}>{names[d]}</span>
                <div class="day-toggle">
                  <input type="checkbox" role="switch" class="switch" id={swId} checked={open}
                    aria-labelledby={`${swId}-name ${swId}-state`}
                    onChange={(e) => set(d, (e.target as HTMLInputElement).checked ? [{ open: '09:00', close: '18:00' }] : [])} />
                  <label for={swId} id={swId + '-state'} class="day-state">{open ? t('hours.open') : t('hours.closed')}</label>
                </div>
              </div>
              <div class="day-body">
                {open ? <Intervals base={`hours.${d}`} list={list} onChange={(l) => set(d, l)} errors={errors} dayLabel={names[d]} />
                  : <p class="muted">{t('hours.closedAllDay')}</p>}
                {dayError(d) && <p class="field-error"><Icon name="alert" size={16} />{dayError(d)}</p>}
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function ExceptionsEditor({ list, onChange, errors }: { list: DateException[]; onChange: (l: DateException[]) => void; errors: Errors }) {
  const { t, lang } = useI18n();
  const setAt = (i: number, x: DateException) => onChange(list.map((y, j) => (j === i ? x : y)));
  const fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeZone: 'UTC' });
  const label = (x: DateException, i: number) => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(x.date)) {
      const [y, m, d] = x.date.split('-').map(Number);
      return fmt.format(new Date(Date.UTC(y, m - 1, d)));
    }
    return t('hours.exceptionN', { n: i + 1 });
  };
  const add = () => {
    const d = new Date();
    d.setDate(d.getDate() + 7);
    onChange([...list, { date: d.toISOString().slice(0, 10), hours: [], note: '' }]);
  };
  return (
    <div class="exceptions">
      {list.length === 0 && <p class="muted">{t('hours.noExceptions')}</p>}
      <ul class="exception-list">
        {list.map((x, i) => {
          const base = `exceptions[${i}]`;
          const dErr = errors[base + '.date'] ?? errors[base];
          const nErr = errors[base + '.note'];
          const open = (x.hours ?? []).length > 0;
          const lbl = label(x, i);
          return (
            <li key={i} class="exception card-inset">
              <div class="exception-grid">
                <div class={'field' + (dErr ? ' has-error' : '')}>
                  <label for={fieldId(base + '.date')}>{t('hours.date')}</label>
                  <input type="date" id={fieldId(base + '.date')} value={x.date}
                    aria-invalid={dErr ? true : undefined} aria-describedby={dErr ? fieldId(base + '.date') + '-error' : undefined}
                    onInput={(e) => setAt(i, { ...x, date: (e.target as HTMLInputElement).value })} />
                  {dErr && <p class="field-error" id={fieldId(base + '.date') + '-error'}><Icon name="alert" size={16} />{dErr}</p>}
                </div>
                <div class={'field' + (nErr ? ' has-error' : '')}>
                  <label for={fieldId(base + '.note')}>{t('hours.note')}</label>
                  <input id={fieldId(base + '.note')} value={x.note ?? ''} placeholder={t('hours.notePlaceholder')}
                    aria-invalid={nErr ? true : undefined}
                    onInput={(e) => setAt(i, { ...x, note: (e.target as HTMLInputElement).value })} />
                  {nErr && <p class="field-error"><Icon name="alert" size={16} />{nErr}</p>}
                </div>
                <button type="button" class="icon-btn exception-remove" onClick={() => onChange(list.filter((_, j) => j !== i))}
                  aria-label={t('hours.removeException', { date: lbl })}>
                  <Icon name="trash" size={18} />
                </button>
              </div>
              <div class="switch-row">
                <input type="checkbox" role="switch" class="switch" id={fieldId(base + '.open')} checked={open}
                  onChange={(e) => setAt(i, { ...x, hours: (e.target as HTMLInputElement).checked ? [{ open: '10:00', close: '16:00' }] : [] })} />
                <label for={fieldId(base + '.open')}>{open ? t('hours.openOnDate') : t('hours.closedOnDate')}</label>
              </div>
              {open && <Intervals base={`${base}.hours`} list={x.hours ?? []} errors={errors} dayLabel={lbl}
                onChange={(l) => setAt(i, { ...x, hours: l })} />}
            </li>
          );
        })}
      </ul>
      <button type="button" class="btn btn-secondary btn-small" onClick={add}><Icon name="plus" size={16} />{t('hours.addException')}</button>
    </div>
  );
}

/** Local check before sending: every time must look like HH:MM. */
export function checkTimes(hours: WeeklyHours, exceptions: DateException[], msg: string) {
  const errs: { field: string; message: string }[] = [];
  WEEKDAYS.forEach((d) => (hours[d] ?? []).forEach((iv, i) => {
    if (!TIME_RE.test(iv.open) || !TIME_RE.test(iv.close)) errs.push({ field: `hours.${d}[${i}]`, message: msg });
  }));
  exceptions.forEach((x, k) => (x.hours ?? []).forEach((iv, i) => {
    if (!TIME_RE.test(iv.open) || !TIME_RE.test(iv.close)) errs.push({ field: `exceptions[${k}].hours[${i}]`, message: msg });
  }));
  return errs;
}

/** Whether the store is open at `now` in its own time zone (exceptions first); null if unknown. */
export function isOpenNow(store: Pick<Store, 'timezone' | 'hours' | 'exceptions'>, now = new Date()): boolean | null {
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: store.timezone, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', weekday: 'long', hourCycle: 'h23',
    }).formatToParts(now);
    const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
    const date = `${get('year')}-${get('month')}-${get('day')}`;
    const hm = `${get('hour')}:${get('minute')}`;
    const day = get('weekday').toLowerCase() as Weekday;
    const exception = store.exceptions.find((x) => x.date === date);
    const list = (exception ? exception.hours : store.hours[day]) ?? [];
    return list.some((iv) => iv.open <= hm && hm < iv.close);
  } catch {
    return null;
  }
}

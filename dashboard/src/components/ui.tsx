import type { ComponentChildren, JSX } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, type FieldError } from '../api';
import { useT, type T } from '../i18n';
import { Icon } from './icons';

// ---------- field errors ----------

export type Errors = Record<string, string>;

export function fieldId(name: string) {
  return 'f-' + name.replace(/[^A-Za-z0-9_-]+/g, '-');
}

/** A human message for any error (network, 429 with retry-after, problem title/detail). */
export function errorMessage(t: T, e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    if (e.status === 429) return e.retryAfter ? t('error.rateLimitedSeconds', { n: e.retryAfter }) : t('error.rateLimited');
    if (e.status === 403 && e.problem.type.endsWith(':csrf')) return t('error.csrf');
    if (e.status === 403) return t('error.forbidden');
    if (e.status === 404) return t('error.notFound');
    if (e.status === 422 && e.fieldErrors.length) return t('error.validation');
    if (e.status === 409 && /email/i.test(e.problem.detail ?? '')) return t('error.emailTaken');
    if (e.status >= 500) return t('error.server');
    return e.problem.detail || e.problem.title || t('error.generic');
  }
  return t('error.generic');
}

/** State for a form: field errors from a 422 plus a general message. */
export function useFormErrors() {
  const t = useT();
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [list, setList] = useState<FieldError[]>([]);
  const clear = useCallback(() => { setErrors({}); setGeneral(null); setList([]); }, []);
  const fromError = useCallback((e: unknown, conflictField?: string) => {
    let fe = e instanceof ApiError ? e.fieldErrors.map((f) => ({ field: f.field, message: translateServerMessage(t, f.message) })) : [];
    if (conflictField && e instanceof ApiError && e.status === 409) fe = [{ field: conflictField, message: t('error.emailTaken') }];
    const map: Errors = {};
    for (const f of fe) map[f.field] = map[f.field] ? `${map[f.field]} ${f.message}` : f.message;
    setErrors(map);
    setList(fe);
    setGeneral(errorMessage(t, e));
  }, [t]);
  const setLocal = useCallback((fe: FieldError[]) => {
    const map: Errors = {};
    for (const f of fe) map[f.field] = f.message;
    setErrors(map); setList(fe); setGeneral(fe.length ? t('error.validation') : null);
  }, [t]);
  return { errors, general, list, clear, fromError, setLocal };
}

/** Lists every problem at the top of a form; each entry moves focus to its field. */
export function ErrorSummary({ general, list, labels }: { general: string | null; list: FieldError[]; labels?: (field: string) => string | undefined }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => { if (general) ref.current?.focus(); }, [general, list]);
  if (!general) return null;
  return (
    <div class="alert alert-error" role="alert" tabIndex={-1} ref={ref}>
      <Icon name="alert" />
      <div>
        <p class="alert-title">{general}</p>
        {list.length > 0 && (
          <ul class="error-list">
            {list.map((f) => (
              <li key={f.field + f.message}>
                <button type="button" class="link" onClick={() => focusField(f.field)}>
                  {labels?.(f.field) ?? f.field}
                </button>
                {': '}{f.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function focusField(field: string) {
  let name = field;
  while (name) {
    const el = document.getElementById(fieldId(name));
    if (el) { el.focus(); return; }
    const cut = Math.max(name.lastIndexOf('.'), name.lastIndexOf('['));
    if (cut <= 0) break;
    name = name.slice(0, cut);
  }
}

interface FieldProps {
  name: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string;
  children: (a: { id: string; describedBy?: string; invalid: boolean }) => JSX.Element;
  class?: string;
}

/** Label + control + hint + error, wired with for/id and aria-describedby. */
export function Field({ name, label, hint, error, children, class: cls }: FieldProps) {
  const id = fieldId(name);
  const hintId = hint ? id + '-hint' : undefined;
  const errId = error ? id + '-error' : undefined;
  const describedBy = [errId, hintId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={'field' + (error ? ' has-error' : '') + (cls ? ' ' + cls : '')}>
      <label for={id}>{label}</label>
      {hint && <p class="hint" id={hintId}>{hint}</p>}
      {children({ id, describedBy, invalid: !!error })}
      {error && <p class="field-error" id={errId}><Icon name="alert" size={16} />{error}</p>}
    </div>
  );
}

interface InputProps {
  name: string; label: ComponentChildren; hint?: ComponentChildren; error?: string;
  value: string; onValue: (v: string) => void; type?: string; class?: string;
  [attr: string]: unknown;
}
export function TextField({ name, label, hint, error, value, onValue, class: cls, ...rest }: InputProps) {
  const attrs = rest as Record<string, unknown>;
  return (
    <Field name={name} label={label} hint={hint} error={error} class={cls}>
      {({ id, describedBy, invalid }) => (
        <input dir="auto" {...(attrs as object)} id={id} name={name} value={value} aria-describedby={describedBy} aria-invalid={invalid || undefined}
          onInput={(e) => onValue((e.target as HTMLInputElement).value)} />
      )}
    </Field>
  );
}

// ---------- switch ----------

export function Switch({ checked, onChange, label, hint, id: given, disabled }: {
  checked: boolean; onChange: (v: boolean) => void; label: ComponentChildren; hint?: ComponentChildren; id?: string; disabled?: boolean;
}) {
  const auto = useId();
  const id = given ?? 'sw-' + auto;
  return (
    <div class="switch-row">
      <input type="checkbox" role="switch" class="switch" id={id} checked={checked} disabled={disabled}
        aria-describedby={hint ? id + '-hint' : undefined}
        onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <div>
        <label for={id}>{label}</label>
        {hint && <p class="hint" id={id + '-hint'}>{hint}</p>}
      </div>
    </div>
  );
}

// ---------- page header ----------

export function PageHeader({ title, lead, actions, back }: { title: string; lead?: ComponentChildren; actions?: ComponentChildren; back?: { href: string; label: string } }) {
  return (
    <header class="page-header">
      {back && <a class="back-link" href={back.href}><Icon name="back" size={16} class="flip-rtl" />{back.label}</a>}
      <div class="page-header-row">
        <div>
          <h1 tabIndex={-1} id="page-title">{title}</h1>
          {lead && <p class="lead">{lead}</p>}
        </div>
        {actions && <div class="page-actions">{actions}</div>}
      </div>
    </header>
  );
}

export function Loading({ label }: { label?: string }) {
  const t = useT();
  return <p class="loading" role="status"><span class="spinner" aria-hidden="true" />{label ?? t('common.loading')}</p>;
}

export function LoadError({ error, retry }: { error: unknown; retry?: () => void }) {
  const t = useT();
  return (
    <div class="alert alert-error" role="alert">
      <Icon name="alert" />
      <div>
        <p class="alert-title">{errorMessage(t, error)}</p>
        {retry && <button type="button" class="btn btn-secondary btn-small" onClick={retry}>{t('common.retry')}</button>}
      </div>
    </div>
  );
}

export function EmptyState({ icon, title, children }: { icon: string; title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <span class="empty-icon" aria-hidden="true"><Icon name={icon} size={28} /></span>
      <h2>{title}</h2>
      {children}
    </div>
  );
}

// ---------- async data ----------

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    fn().then((d) => { if (live) { setData(d); setLoading(false); } },
      (e) => { if (live) { setError(e); setLoading(false); } });
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data, error, loading, reload, setData };
}

// ---------- dialog ----------

/**
 * Modal dialog on the native <dialog> element: showModal() makes the rest of the page inert
 * (focus stays inside), Escape closes it, and focus returns to the opener.
 */
export function Dialog({ open, onClose, title, children, footer, wide, onSubmit, closeLabel }: {
  open: boolean; onClose: () => void; title: string; children: ComponentChildren; footer?: ComponentChildren;
  wide?: boolean; onSubmit?: (e: Event) => void; closeLabel?: string;
}) {
  const t = useT();
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement as HTMLElement | null;
      d.showModal();
      const first = d.querySelector<HTMLElement>('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, .dialog-body button, .dialog-footer button');
      (first ?? d).focus();
    } else if (!open && d.open) {
      d.close();
      const o = opener.current;
      if (o && document.contains(o)) o.focus();
    }
  }, [open]);
  useEffect(() => () => { ref.current?.open && ref.current.close(); }, []);
  const Body = onSubmit ? 'form' : 'div';
  return (
    <dialog ref={ref} class={'dialog' + (wide ? ' dialog-wide' : '')} aria-labelledby={titleId}
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onKeyDown={(e) => trapTab(e, ref.current)}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      {open && (
        <Body class="dialog-inner" onSubmit={onSubmit ? (e: Event) => { e.preventDefault(); onSubmit(e); } : undefined} noValidate>
          <div class="dialog-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" class="icon-btn" onClick={onClose} aria-label={closeLabel ?? t('common.close')}>
              <Icon name="x" />
            </button>
          </div>
          <div class="dialog-body">{children}</div>
          {footer && <div class="dialog-footer">{footer}</div>}
        </Body>
      )}
    </dialog>
  );
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([tabindex="-1"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Keeps Tab and Shift+Tab cycling inside the open dialog. */
function trapTab(e: KeyboardEvent, d: HTMLDialogElement | null) {
  if (e.key !== 'Tab' || !d) return;
  const items = Array.from(d.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.offsetParent !== null || el === document.activeElement);
  if (!items.length) { e.preventDefault(); return; }
  const first = items[0];
  const last = items[items.length - 1];
  const active = document.activeElement as HTMLElement | null;
  if (e.shiftKey && (active === first || !d.contains(active))) { e.preventDefault(); last.focus(); }
  else if (!e.shiftKey && (active === last || !d.contains(active))) { e.preventDefault(); first.focus(); }
}

export function ConfirmDialog({ open, title, message, confirmLabel, danger, busy, onConfirm, onClose, error }: {
  open: boolean; title: string; message: ComponentChildren; confirmLabel: string; danger?: boolean; busy?: boolean;
  onConfirm: () => void; onClose: () => void; error?: string | null;
}) {
  const t = useT();
  return (
    <Dialog open={open} onClose={onClose} title={title} footer={
      <>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="button" class={'btn ' + (danger ? 'btn-danger' : 'btn-primary')} onClick={onConfirm} disabled={busy}>{confirmLabel}</button>
      </>
    }>
      <div class="confirm-message">{message}</div>
      {error && <p class="field-error" role="alert">{error}</p>}
    </Dialog>
  );
}

// ---------- toasts ----------

interface Toast { id: number; text: string; kind: 'ok' | 'error' }
const ToastContext = createContext<(text: string, kind?: 'ok' | 'error') => void>(() => {});
export const useToast = () => useContext(ToastContext);

export function ToastProvider({ children }: { children: ComponentChildren }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const push = useCallback((text: string, kind: 'ok' | 'error' = 'ok') => {
    const id = next.current++;
    setToasts((ts) => [...ts, { id, text, kind }]);
    setTimeout(() => setToasts((ts) => ts.filter((x) => x.id !== id)), 5000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div class="toasts" role="status" aria-live="polite">
        {toasts.map((x) => (
          <div key={x.id} class={'toast toast-' + x.kind}>
            <Icon name={x.kind === 'ok' ? 'check' : 'alert'} size={18} />{x.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

// ---------- copy ----------

export function CopyButton({ text, label, class: cls }: { text: string; label?: string; class?: string }) {
  const t = useT();
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = document.createElement('textarea');
      ta.value = text; document.body.appendChild(ta); ta.select();
      try { document.execCommand('copy'); } finally { ta.remove(); }
    }
    setDone(true);
    setTimeout(() => setDone(false), 2500);
  };
  return (
    <button type="button" class={cls ?? 'btn btn-secondary'} onClick={copy}>
      <Icon name={done ? 'check' : 'copy'} size={18} />
      <span aria-live="polite">{done ? t('common.copied') : (label ?? t('common.copy'))}</span>
    </button>
  );
}

export function Badge({ kind, children }: { kind: 'ok' | 'warn' | 'muted' | 'info' | 'danger'; children: ComponentChildren }) {
  return <span class={'badge badge-' + kind}>{children}</span>;
}

/** The server's field messages are English; these are the ones it sends, translated. */
const SERVER_MESSAGES: [RegExp, string, (m: RegExpMatchArray) => Record<string, number>][] = [
  [/^must not be empty$/, 'srv.empty', () => ({})],
  [/^must be at most (\d+) characters$/, 'srv.maxChars', (m) => ({ n: Number(m[1]) })],
  [/^must be at least (\d+) characters$/, 'srv.minChars', (m) => ({ n: Number(m[1]) })],
  [/^must be an email address$/, 'srv.email', () => ({})],
  [/^unsupported language$/, 'srv.language', () => ({})],
  [/^is not your current password$/, 'srv.currentPassword', () => ({})],
  [/^use 1–32 letters, digits, - or _$/, 'replies.shortcutRule', () => ({})],
  [/^open must be before close$/, 'srv.openBeforeClose', () => ({})],
  [/^offer at least one language$/, 'srv.oneLanguage', () => ({})],
  [/^must be an origin like /, 'srv.origin', () => ({})],
  [/^must be an https:\/\/ URL or a path/, 'srv.logoUrl', () => ({})],
  [/^must be an IANA timezone/, 'srv.timezone', () => ({})],
  [/^must be a two-letter country code/, 'srv.country', () => ({})],
  [/^must be a path pattern starting with \//, 'srv.pathPattern', () => ({})],
  [/^must be a date YYYY-MM-DD$/, 'srv.date', () => ({})],
  [/^must be (\d+)–(\d+)$/, 'srv.range', (m) => ({ min: Number(m[1]), max: Number(m[2]) })],
  [/^must be 0 or (\d+)–(\d+)$/, 'srv.zeroOrRange', (m) => ({ min: Number(m[1]), max: Number(m[2]) })],
  [/^must be #rrggbb$/, 'srv.color', () => ({})],
];

export function translateServerMessage(t: T, message: string): string {
  for (const [re, key, vars] of SERVER_MESSAGES) {
    const m = message.match(re);
    if (m) return t(key, vars(m));
  }
  return message;
}

/** Marks a form as having unsaved changes: a visible note, and the browser asks before leaving. */
export function useUnsaved(dirty: boolean) {
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => { e.preventDefault(); e.returnValue = ''; };
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, [dirty]);
}

export function UnsavedNote({ dirty }: { dirty: boolean }) {
  const t = useT();
  return <span class="unsaved" role="status">{dirty ? <><span class="unsaved-dot" aria-hidden="true" />{t('common.unsaved')}</> : null}</span>;
}

// Small shared pieces: icons, form fields, bottom sheets (native <dialog>), hooks.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { hub, type HubState } from './hub';
import { onLang } from './i18n';

export function useHub(): HubState {
  const [, force] = useState(0);
  const rendered = hub.state;
  useEffect(() => {
    const off = hub.subscribe(() => force((n) => n + 1));
    // Effects run after paint: the hub may have changed in between (e.g. `welcome` arriving
    // right after sign-in on a busy phone). Every change is a new state object, so compare.
    if (hub.state !== rendered) force((n) => n + 1);
    return off;
  }, []);
  return hub.state;
}

export function useLangRerender() {
  const [, force] = useState(0);
  useEffect(() => onLang(() => force((n) => n + 1)), []);
}

/** Re-render every `ms` (for counters such as "waiting 1:23"). */
export function useTick(ms = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const id = setInterval(() => setNow(Date.now()), ms); return () => clearInterval(id); }, [ms]);
  return now;
}

const PATHS: Record<string, string> = {
  chats: 'M4 4h16v12H7l-3 3V4z',
  contacts: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-8 8c0-3.3 3.6-6 8-6s8 2.7 8 6',
  profile: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 5a3 3 0 1 1 0 6 3 3 0 0 1 0-6zm-6 10.5c1.2-2 3.5-3 6-3s4.8 1 6 3',
  back: 'M15 5l-7 7 7 7',
  send: 'M3 20l18-8L3 4v6l12 2-12 2z',
  replies: 'M4 5h16M4 10h16M4 15h10M4 20h7',
  product: 'M4 7l8-4 8 4v10l-8 4-8-4V7zm0 0l8 4 8-4M12 11v10',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  close: 'M6 6l12 12M18 6L6 18',
  search: 'M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM20 20l-4.7-4.7',
  transfer: 'M4 8h13l-4-4M20 16H7l4 4',
  end: 'M6 6l12 12M18 6L6 18',
  info: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 9v6m0-10h.01',
  bell: 'M6 16V11a6 6 0 1 1 12 0v5l2 2H4l2-2zm4 4h4',
  sliders: 'M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0M14 4v4M8 10v4M16 16v4',
  check: 'M5 12l5 5 9-10',
  wifi: 'M2 9a15 15 0 0 1 20 0M5 12.5a10 10 0 0 1 14 0M8.5 16a5 5 0 0 1 7 0M12 19.5h.01',
};

export function Icon({ name, size = 24, flip }: { name: string; size?: number; flip?: boolean }) {
  return (
    <svg class={flip ? 'icon flip-rtl' : 'icon'} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false"
      fill="none" stroke="currentColor" stroke-width={name === 'more' ? 3.5 : 2} stroke-linecap="round" stroke-linejoin="round">
      <path d={PATHS[name] ?? ''} />
    </svg>
  );
}

let fieldSeq = 0;
export function useId(prefix = 'f') {
  const ref = useRef<string | undefined>(undefined);
  if (!ref.current) ref.current = `${prefix}${++fieldSeq}`;
  return ref.current;
}

interface FieldProps {
  [attr: string]: any;
  label: string; value: string; onValue: (v: string) => void; error?: string; help?: string;
  type?: string; autoComplete?: string; required?: boolean; optional?: string; inputMode?: string;
}
export function Field({ label, value, onValue, error, help, type = 'text', optional, ...rest }: FieldProps) {
  const id = useId();
  const describedBy = [help && help !== error ? `${id}-help` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' has-error' : ''}`}>
      <label for={id}>{label}{optional ? <span class="optional"> ({optional})</span> : null}</label>
      <input id={id} type={type} dir="auto" value={value} onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
        aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy} {...(rest as any)} />
      {help && help !== error ? <p class="help" id={`${id}-help`}>{help}</p> : null}
      {error ? <p class="error" id={`${id}-err`}>{error}</p> : null}
    </div>
  );
}

/** A modal bottom sheet built on <dialog>: focus is trapped, Escape closes it. */
export function Sheet({ title, onClose, children, class: cls }: { title: string; onClose: () => void; children: ComponentChildren; class?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId('sheet');
  useEffect(() => {
    const d = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    return () => { try { d.close(); } catch { /* */ } opener?.focus?.(); };
  }, []);
  return (
    <dialog ref={ref} class={`sheet ${cls ?? ''}`} aria-labelledby={id}
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <div class="sheet-inner">
        <div class="sheet-head">
          <h2 id={id}>{title}</h2>
          <button type="button" class="icon-btn" onClick={onClose} aria-label={closeLabel()}><Icon name="close" /></button>
        </div>
        {children}
      </div>
    </dialog>
  );
}
let closeLabel = () => 'Close';
export function setCloseLabel(fn: () => string) { closeLabel = fn; }

export function Toggle({ checked, onChange, label, id, ariaLabel }: { checked: boolean; onChange: (v: boolean) => void; label: ComponentChildren; id?: string; ariaLabel?: string }) {
  const auto = useId('tg');
  const tid = id ?? auto;
  return (
    <label class="toggle" for={tid}>
      <span class="toggle-label">{label}</span>
      <input id={tid} type="checkbox" role="switch" aria-label={ariaLabel} checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      <span class="toggle-track" aria-hidden="true"><span class="toggle-thumb" /></span>
    </label>
  );
}

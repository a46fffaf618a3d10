// Reaching the shopper after they leave (issue 21): the offline form's optional phone number
// ("text me when you get an answer"), and, in a claimed chat, "E-mail me if I leave" — the
// `notify_me` frame, sent only when the shopper presses the button. Own strings and styles, so
// the shared panel files only get a few hook lines.
import { h } from './dom';

const en = {
  phone: 'Text me when you get an answer (optional)',
  phoneHint: 'Mobile number with country code, e.g. +46701234567',
  badPhone: 'Enter the mobile number in international form: + and the country code, e.g. +46701234567.',
  smsToo: 'We will also text {phone} when the answer is there.',
  open: 'E-mail me if I leave',
  intro: 'If you leave before the chat is over, new answers are sent to you. Nothing is sent while you are here.',
  email: 'Email',
  phoneShort: 'Also text me (optional)',
  save: 'Notify me',
  saving: 'Saving…',
  cancel: 'Cancel',
  needOne: 'Enter an email address or a mobile number.',
  needEmail: 'Enter your email address.',
  badEmail: 'Enter a valid email address, like name@example.com.',
  on: 'If you leave, new answers go to {to}.',
  and: '{a} and {b}',
  change: 'Change',
  offline: 'Not connected right now. Try again in a moment.',
};
type Dict = Record<keyof typeof en, string>;
const sv: Dict = {
  phone: 'Sms:a mig när svaret kommer (valfritt)',
  phoneHint: 'Mobilnummer med landskod, t.ex. +46701234567',
  badPhone: 'Ange mobilnumret i internationell form: + och landskoden, t.ex. +46701234567.',
  smsToo: 'Vi skickar också ett sms till {phone} när svaret finns.',
  open: 'Mejla mig om jag går',
  intro: 'Om du går innan chatten är slut skickas nya svar till dig. Inget skickas medan du är kvar.',
  email: 'E-post',
  phoneShort: 'Sms:a mig också (valfritt)',
  save: 'Meddela mig',
  saving: 'Sparar…',
  cancel: 'Avbryt',
  needOne: 'Ange en e-postadress eller ett mobilnummer.',
  needEmail: 'Ange din e-postadress.',
  badEmail: 'Ange en giltig e-postadress, till exempel namn@exempel.se.',
  on: 'Om du går skickas nya svar till {to}.',
  and: '{a} och {b}',
  change: 'Ändra',
  offline: 'Ingen anslutning just nu. Försök igen om en stund.',
};
const de: Dict = {
  phone: 'Per SMS benachrichtigen, wenn die Antwort da ist (optional)',
  phoneHint: 'Handynummer mit Ländervorwahl, z. B. +491511234567',
  badPhone: 'Geben Sie die Handynummer international ein: + und die Ländervorwahl, z. B. +491511234567.',
  smsToo: 'Wir schicken außerdem eine SMS an {phone}, sobald die Antwort da ist.',
  open: 'Per E-Mail benachrichtigen, wenn ich gehe',
  intro: 'Wenn Sie gehen, bevor der Chat vorbei ist, schicken wir Ihnen neue Antworten. Solange Sie hier sind, wird nichts gesendet.',
  email: 'E-Mail',
  phoneShort: 'Auch per SMS (optional)',
  save: 'Benachrichtigen',
  saving: 'Wird gespeichert…',
  cancel: 'Abbrechen',
  needOne: 'Geben Sie eine E-Mail-Adresse oder eine Handynummer ein.',
  needEmail: 'Geben Sie Ihre E-Mail-Adresse ein.',
  badEmail: 'Geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de.',
  on: 'Wenn Sie gehen, gehen neue Antworten an {to}.',
  and: '{a} und {b}',
  change: 'Ändern',
  offline: 'Gerade keine Verbindung. Bitte gleich noch einmal versuchen.',
};
const el: Dict = {
  phone: 'Στείλτε μου SMS όταν έρθει η απάντηση (προαιρετικό)',
  phoneHint: 'Κινητό με κωδικό χώρας, π.χ. +306912345678',
  badPhone: 'Εισαγάγετε το κινητό σε διεθνή μορφή: + και κωδικό χώρας, π.χ. +306912345678.',
  smsToo: 'Θα στείλουμε επίσης SMS στο {phone} όταν υπάρχει απάντηση.',
  open: 'Στείλτε μου email αν φύγω',
  intro: 'Αν φύγετε πριν τελειώσει η συνομιλία, οι νέες απαντήσεις θα σας σταλούν. Τίποτα δεν στέλνεται όσο είστε εδώ.',
  email: 'Email',
  phoneShort: 'Και με SMS (προαιρετικό)',
  save: 'Ειδοποιήστε με',
  saving: 'Αποθήκευση…',
  cancel: 'Άκυρο',
  needOne: 'Εισαγάγετε email ή αριθμό κινητού.',
  needEmail: 'Εισαγάγετε το email σας.',
  badEmail: 'Εισαγάγετε έγκυρο email, π.χ. onoma@example.com.',
  on: 'Αν φύγετε, οι νέες απαντήσεις πηγαίνουν στο {to}.',
  and: '{a} και {b}',
  change: 'Αλλαγή',
  offline: 'Δεν υπάρχει σύνδεση αυτή τη στιγμή. Δοκιμάστε ξανά σε λίγο.',
};
const cs: Dict = {
  phone: 'Poslat mi SMS, až přijde odpověď (nepovinné)',
  phoneHint: 'Mobilní číslo s předvolbou země, např. +420601234567',
  badPhone: 'Zadejte mobilní číslo v mezinárodním tvaru: + a předvolba země, např. +420601234567.',
  smsToo: 'Až bude odpověď, pošleme také SMS na {phone}.',
  open: 'Poslat e-mail, když odejdu',
  intro: 'Pokud odejdete dřív, než chat skončí, pošleme vám nové odpovědi. Dokud jste tady, nic neposíláme.',
  email: 'E-mail',
  phoneShort: 'Také SMS (nepovinné)',
  save: 'Upozornit mě',
  saving: 'Ukládá se…',
  cancel: 'Zrušit',
  needOne: 'Zadejte e-mail nebo mobilní číslo.',
  needEmail: 'Zadejte svůj e-mail.',
  badEmail: 'Zadejte platný e-mail, například jmeno@example.cz.',
  on: 'Pokud odejdete, nové odpovědi půjdou na {to}.',
  and: '{a} a {b}',
  change: 'Změnit',
  offline: 'Právě nejste připojeni. Zkuste to za chvíli.',
};
const fa: Dict = {
  phone: 'وقتی پاسخ رسید برایم پیامک بفرست (اختیاری)',
  phoneHint: 'شماره موبایل با کد کشور، مانند +989121234567',
  badPhone: 'شماره موبایل را به شکل بین‌المللی وارد کنید: + و کد کشور، مانند +989121234567.',
  smsToo: 'وقتی پاسخ آماده شد، به {phone} هم پیامک می‌فرستیم.',
  open: 'اگر رفتم، برایم ایمیل بفرست',
  intro: 'اگر پیش از پایان گفت‌وگو بروید، پاسخ‌های تازه برایتان فرستاده می‌شود. تا وقتی اینجا هستید چیزی فرستاده نمی‌شود.',
  email: 'ایمیل',
  phoneShort: 'پیامک هم بفرست (اختیاری)',
  save: 'خبرم کن',
  saving: 'در حال ذخیره…',
  cancel: 'انصراف',
  needOne: 'یک ایمیل یا شماره موبایل وارد کنید.',
  needEmail: 'ایمیل خود را وارد کنید.',
  badEmail: 'یک ایمیل معتبر وارد کنید، مانند name@example.com.',
  on: 'اگر بروید، پاسخ‌های تازه به {to} فرستاده می‌شود.',
  and: '{a} و {b}',
  change: 'تغییر',
  offline: 'اکنون اتصال برقرار نیست. کمی بعد دوباره امتحان کنید.',
};
export const REACH_STRINGS: Record<string, Dict> = { en, sv, de, el, cs, fa };
const ALL = REACH_STRINGS;

const iso = (x: string) => '\u2066' + x + '\u2069';
/** A text with `{x}` filled in; values are isolated left to right unless `raw` (already isolated). */
export function rt(lang: string, k: keyof typeof en, v?: Record<string, string>, raw = false): string {
  let s = (ALL[lang] || en)[k];
  // Addresses and numbers are isolated so they read left to right inside Persian text.
  // Example numbers (+46…) are kept left to right too.
  s = s.replace(/\+[0-9]+/g, '\u2066$&\u2069');
  for (const n in v || {}) s = s.split('{' + n + '}').join(raw ? v![n] : iso(v![n]));
  return s;
}

/** As the server checks it (`outbound::sms::valid_e164`): + then 8–15 digits, not starting with 0. */
export function validE164(s: string): boolean {
  return /^\+[1-9][0-9]{7,14}$/.test(s);
}
/** Spaces, dashes, dots and brackets people type are dropped; a leading 00 becomes +. */
export function cleanPhone(s: string): string {
  const t = s.replace(/[\s\-.()\u00a0]/g, '');
  return t.startsWith('00') ? '+' + t.slice(2) : t;
}
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const REACH_CSS = `
.fw input[type=tel]{font:inherit;color:var(--fw-fg);background:var(--fw-bg);border:1px solid var(--fw-muted);border-radius:10px;padding:10px 12px;min-height:44px;width:100%;margin:0;line-height:1.4}
.fw input[type=tel][dir=ltr]{text-align:left}
.fw[dir=rtl] input[type=tel]::placeholder{text-align:right}
.fw-hint{margin:0;font-size:13px;color:var(--fw-muted)}
.fw-reach{margin:12px 0 4px;display:flex;flex-direction:column;align-items:center;gap:6px}
.fw-reach>.fw-text-btn{font-size:13px;font-weight:600;color:var(--fw-muted)}
.fw-reach form{align-self:stretch;display:flex;flex-direction:column;gap:10px;padding:12px;border:1px solid var(--fw-line);border-radius:12px;background:var(--fw-soft)}
.fw-reach-note{text-align:center;font-size:13px;color:var(--fw-muted);margin:0}
.fw-reach-note:empty{display:none}
`;

/** The offline form's phone field; `value()` is the cleaned number, '' for none, or null (after
 *  showing the error in `err` and focusing the field) when it is not a valid number. */
export function phoneField(lang: string) {
  const input = h('input', { id: 'fw-phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', dir: 'ltr', 'aria-describedby': 'fw-phone-hint fw-off-err' });
  const node = h('div', { class: 'fw-field' },
    h('label', { for: 'fw-phone', class: 'fw-label' }, rt(lang, 'phone')),
    input,
    h('p', { id: 'fw-phone-hint', class: 'fw-hint' }, rt(lang, 'phoneHint')));
  return {
    node,
    value(err: HTMLElement): string | null {
      input.removeAttribute('aria-invalid');
      const p = cleanPhone(input.value);
      if (p && !validE164(p)) {
        err.textContent = rt(lang, 'badPhone');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return null;
      }
      return p;
    },
  };
}

export interface ReachDeps {
  lang: () => string;
  /** Whether the merchant sends SMS (the widget config): the phone field is offered only then. */
  sms: () => boolean;
  /** An address the shopper already gave (identity, the offline form, a transcript). */
  email: () => string;
  /** Sends `notify_me`; false while the socket is down. */
  send: (conversation_id: string, email?: string, phone?: string) => boolean;
}

/** "E-mail me if I leave", shown beneath the thread of a claimed chat. */
export function reachBox(d: ReachDeps) {
  const el = h('div', { class: 'fw-reach', hidden: true });
  let conv = '';
  let open = false;
  let waiting = false;
  let on: { email?: string | null; phone?: string | null } | null = null;
  // What the server keeps per conversation (its `notify_me` answers, and `welcome` after a reload).
  const kept = new Map<string, { email?: string | null; phone?: string | null }>();
  let built = '';
  let err: HTMLElement | null = null;
  let saveBtn: HTMLButtonElement | null = null;
  let focusAfter = '';

  function draw() {
    const L = d.lang();
    const sms = d.sms();
    built = L + '|' + open + '|' + JSON.stringify(on) + '|' + sms;
    const focusOut = el.contains((el.getRootNode() as ShadowRoot).activeElement);
    el.replaceChildren();
    err = saveBtn = null;
    if (open) {
      const email = h('input', { id: 'fw-reach-email', type: 'email', autocomplete: 'email', dir: 'ltr', 'aria-describedby': 'fw-reach-err', value: (on && on.email) || d.email() });
      const phone = h('input', { id: 'fw-reach-phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', dir: 'ltr', 'aria-describedby': 'fw-reach-hint fw-reach-err', value: (on && on.phone) || '' });
      err = h('p', { id: 'fw-reach-err', class: 'fw-field-err', role: 'alert' });
      saveBtn = h('button', { type: 'submit', class: 'fw-btn fw-btn-small' }, rt(L, 'save'));
      const form = h('form', { class: 'fw-form', novalidate: true, 'aria-labelledby': 'fw-reach-intro' },
        h('p', { id: 'fw-reach-intro', class: 'fw-muted' }, rt(L, 'intro')),
        h('div', { class: 'fw-field' }, h('label', { for: 'fw-reach-email', class: 'fw-label' }, rt(L, 'email')), email),
        sms ? h('div', { class: 'fw-field' }, h('label', { for: 'fw-reach-phone', class: 'fw-label' }, rt(L, 'phoneShort')), phone,
          h('p', { id: 'fw-reach-hint', class: 'fw-hint' }, rt(L, 'phoneHint'))) : null,
        err,
        h('div', { class: 'fw-row' }, saveBtn,
          h('button', { type: 'button', class: 'fw-text-btn', onclick: () => { open = false; focusAfter = 'open'; draw(); } }, rt(L, 'cancel'))));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (waiting) return;
        const er = err!;
        er.textContent = '';
        email.removeAttribute('aria-invalid');
        phone.removeAttribute('aria-invalid');
        const a = email.value.trim();
        const p = cleanPhone(phone.value);
        const bad = (input: HTMLInputElement, k: keyof typeof en) => { er.textContent = rt(L, k); input.setAttribute('aria-invalid', 'true'); input.focus(); };
        if (!a && !p) return bad(email, sms ? 'needOne' : 'needEmail');
        if (a && !EMAIL.test(a)) return bad(email, 'badEmail');
        if (p && !validE164(p)) return bad(phone, 'badPhone');
        if (!d.send(conv, a || undefined, p || undefined)) { er.textContent = rt(L, 'offline'); return; }
        waiting = true;
        saveBtn!.disabled = true;
        saveBtn!.textContent = rt(L, 'saving');
      });
      el.append(form);
      if (focusOut || focusAfter === 'form') email.focus({ preventScroll: false } as FocusOptions);
    } else {
      let note: HTMLElement | null = null;
      if (on) {
        const to = [on.email, on.phone].filter(Boolean) as string[];
        note = h('p', { class: 'fw-reach-note', role: 'status' },
          rt(L, 'on', { to: to.length > 1 ? rt(L, 'and', { a: to[0], b: to[1] }) : iso(to[0] || '') }, true));
      }
      const btn = h('button', { type: 'button', class: 'fw-text-btn', onclick: () => { open = true; focusAfter = 'form'; draw(); } },
        on ? rt(L, 'change') : rt(L, 'open'));
      el.append(...(note ? [note] : []), btn);
      if (focusAfter === 'open' || (focusOut && focusAfter !== '')) btn.focus();
    }
    focusAfter = '';
  }

  return {
    el,
    /** Every render: shown in a claimed chat only. */
    render(conversationId: string | null, claimed: boolean) {
      if ((conversationId || '') !== conv) {
        conv = conversationId || '';
        open = waiting = false;
        on = kept.get(conv) || null;
        built = '';
      }
      el.hidden = !claimed || !conv;
      if (el.hidden) return;
      if (built !== d.lang() + '|' + open + '|' + JSON.stringify(on) + '|' + d.sms()) draw();
    },
    /** The server's `notify_me` answer. */
    answer(f: { conversation_id: string; email?: string | null; phone?: string | null }) {
      kept.set(f.conversation_id, { email: f.email, phone: f.phone });
      if (f.conversation_id !== conv) return;
      waiting = false;
      open = false;
      on = { email: f.email, phone: f.phone };
      focusAfter = 'open';
      draw();
    },
    /** `welcome`: where answers reach the shopper while away, per open conversation, as the
     *  server keeps it (so a reload still shows "If you leave, new answers go to …"). */
    known(list: { conversation_id: string; email?: string | null; phone?: string | null }[]) {
      for (const f of list) kept.set(f.conversation_id, { email: f.email, phone: f.phone });
      if (conv && !open && !waiting && kept.has(conv)) {
        on = kept.get(conv)!;
        if (!el.hidden) draw();
      }
    },
    /** An `error` for our request: shows the server's message; true if it was ours. */
    error(code: string, message: string | undefined, ref: string | undefined): boolean {
      if (!waiting || ref !== conv) return false;
      waiting = false;
      if (saveBtn) { saveBtn.disabled = false; saveBtn.textContent = rt(d.lang(), 'save'); }
      if (err) {
        err.textContent = code === 'bad_request' && message ? message.charAt(0).toUpperCase() + message.slice(1) + '.' : rt(d.lang(), 'offline');
        const bad = /phone/.test(message || '') ? 'fw-reach-phone' : 'fw-reach-email';
        const input = el.querySelector('#' + bad) as HTMLInputElement | null;
        if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
      }
      return true;
    },
  };
}

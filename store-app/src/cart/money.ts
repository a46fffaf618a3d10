// Money on screen: decimal strings from the server, formatted with Intl for the app's
// language and the ISO 4217 currency. Intl.NumberFormat formats a decimal *string* exactly
// (no trip through floating point); nothing here does arithmetic on amounts.
import { currentLang } from '../i18n';

const formats = new Map<string, Intl.NumberFormat>();
export function money(amount: string | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return '';
  if (!currency) return amount;
  const k = `${currentLang()}:${currency}`;
  let f = formats.get(k);
  if (!f) {
    try { f = new Intl.NumberFormat(currentLang(), { style: 'currency', currency }); } catch { return `${amount} ${currency}`; }
    formats.set(k, f);
  }
  return (f.format as unknown as (v: string) => string)(amount);
}

/** A VAT rate ("25", "12.5") as a percentage in the app's language. Display only. */
export function pct(rate: string): string {
  try { return new Intl.NumberFormat(currentLang(), { style: 'percent', maximumFractionDigits: 2 }).format(Number(rate) / 100); } catch { return `${rate} %`; }
}

/** What someone typed as an amount ("1 299,50", "12.5", "۱۲٫۵") as a plain decimal string
 *  ("1299.50"), or null when it is not one. Persian and Arabic digits are accepted. */
export function decimalInput(s: string): string | null {
  let v = s.trim().replace(/[\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) - 0x06f0)).replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660));
  v = v.replace(/[\s\u00a0\u202f'’]/g, '').replace(/[٫,]/g, '.');
  if (!/^\d{1,9}(\.\d{1,3})?$/.test(v)) return null;
  return v;
}

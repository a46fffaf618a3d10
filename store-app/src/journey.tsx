// The shopper's latest pages (offers carry them as `journey`, newest first): a compact summary
// on the offer card and the full list in the open chat's shopper info. Titles and URLs come from
// the shopper's browser: they are only ever rendered as text, and only http(s) URLs become links.
import type { PageVisit, Product } from './hub';
import { ago, date, money, t } from './i18n';

/** An absolute http(s) URL fit for a link, else null (javascript:, data:, relative, garbage). */
export function pageHref(url?: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch { return null; }
}

/** host + path, for reading a URL at a glance ("shop.example/tv/55"). */
export function shortUrl(url?: string | null): string {
  if (!url) return '';
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return url;
    const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    return u.host + path;
  } catch { return url; }
}

/** The page's title, else its short URL. */
export function pageLabel(v: PageVisit): string {
  return (v.title || '').trim() || shortUrl(v.url);
}

function price(p: Product): string {
  return p.price !== undefined && p.price !== null ? money(p.price, p.currency) : '';
}

/** On the offer card: the newest page prominent (and its product), older pages on one line. */
export function OfferJourney({ visits, now }: { visits: PageVisit[]; now: number }) {
  const [first, ...rest] = visits;
  const p = first.product;
  const cost = p ? price(p) : '';
  return (
    <div class="offer-journey">
      <p class="oj-now">
        <span class="ctx-label">{t('offer.viewed')}</span>
        <bdi class="oj-title" dir="auto">{pageLabel(first)}</bdi>
        <span class="oj-ago"><span aria-hidden="true">· </span><span class="sr-only">, </span>{ago(first.at, now, 'short')}</span>
      </p>
      {p?.name ? (
        <p class="oj-product">
          <bdi class="oj-pname" dir="auto">{p.name}</bdi>
          {cost ? <span class="oj-price"><span aria-hidden="true">· </span><span class="sr-only">, </span>{cost}</span> : null}
        </p>
      ) : null}
      {rest.length ? (
        <p class="oj-before">
          <span class="ctx-label">{t('offer.before')}</span>
          {/* Older pages that do not fit on the line wrap onto a hidden one (still read out). */}
          <span class="oj-pages">
            {rest.map((v, i) => (
              <span class="oj-item">
                {i ? <span class="oj-sep"><span aria-hidden="true">·</span><span class="sr-only">, </span></span> : null}
                <bdi class="oj-page" dir="auto">{pageLabel(v)}</bdi>
              </span>
            ))}
          </span>
        </p>
      ) : null}
    </div>
  );
}

/** In the shopper info: every page with its time, title, address and product. */
export function JourneyList({ visits, now }: { visits: PageVisit[]; now: number }) {
  return (
    <ol class="steps">
      {visits.map((v) => {
        const href = pageHref(v.url);
        const label = pageLabel(v);
        const p = v.product;
        const cost = p ? price(p) : '';
        const productHref = pageHref(p?.url);
        return (
          <li>
            <time class="step-time" dateTime={new Date(v.at).toISOString()} title={date(v.at)}>{ago(v.at, now)}</time>
            {href ? (
              <a class="step-link" href={href} target="_blank" rel="noopener noreferrer">
                <bdi dir="auto">{label}</bdi><span class="sr-only"> ({t('journey.newTab')})</span>
              </a>
            ) : <bdi class="step-link" dir="auto">{label}</bdi>}
            {v.title?.trim() ? <bdi class="step-url" dir="ltr">{shortUrl(v.url)}</bdi> : null}
            {p?.name ? (
              <p class="step-product">
                <span class="ctx-label">{t('offer.product')}</span>{' '}
                {productHref ? (
                  <a href={productHref} target="_blank" rel="noopener noreferrer"><bdi dir="auto">{p.name}</bdi><span class="sr-only"> ({t('journey.newTab')})</span></a>
                ) : <bdi dir="auto">{p.name}</bdi>}
                {cost ? <><span aria-hidden="true"> · </span><span class="sr-only">, </span>{cost}</> : null}
              </p>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

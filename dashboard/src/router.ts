import { useEffect, useState } from 'preact/hooks';

/** Hash routes (`#/stores/123`) so relative asset URLs keep working under /dashboard/. */
export function currentPath(): string {
  const h = location.hash.replace(/^#/, '');
  return h.startsWith('/') ? h : '/';
}

export function useRoute(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const on = () => setPath(currentPath());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return path;
}

export function navigate(path: string) {
  if (currentPath() !== path) location.hash = '#' + path;
}

export function href(path: string) { return '#' + path; }

/** Matches `/stores/:id` style patterns; returns params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('?')[0].split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

/** Splits `/analytics?range=7d` into the path and its query. */
export function splitPath(full: string): { pathname: string; query: URLSearchParams } {
  const i = full.indexOf('?');
  return i < 0 ? { pathname: full, query: new URLSearchParams() } : { pathname: full.slice(0, i), query: new URLSearchParams(full.slice(i + 1)) };
}

/**
 * Replaces the current hash (no new history entry), e.g. when a filter changes, and tells
 * `useRoute` listeners about it.
 */
export function replaceRoute(path: string) {
  if (currentPath() === path) return;
  history.replaceState(history.state, '', '#' + path);
  dispatchEvent(new HashChangeEvent('hashchange'));
}

/** `path` plus the non-empty entries of `params` as a query string. */
export function withQuery(path: string, params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

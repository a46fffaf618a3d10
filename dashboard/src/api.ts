// Thin client for the Floorwalker REST API: session cookie + CSRF header, RFC 9457 problems.

export type Module =
  | 'analytics' | 'exports' | 'stores' | 'team' | 'settings' | 'saved_replies' | 'shoppers' | 'integrations';
export const ALL_MODULES: Module[] = [
  'analytics', 'exports', 'stores', 'team', 'settings', 'saved_replies', 'shoppers', 'integrations',
];

export interface Account {
  id: string;
  merchant_id?: string | null;
  email: string;
  name: string;
  role: 'operator' | 'merchant';
  modules: Module[];
  active: boolean;
  created_at: number;
}
export interface Session { account: Account; csrf_token: string }
export interface Merchant { id: string; name: string; active: boolean; created_at: number }
export interface Interval { open: string; close: string }
export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';
export const WEEKDAYS: Weekday[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
export type WeeklyHours = Partial<Record<Weekday, Interval[]>>;
export interface DateException { date: string; hours: Interval[]; note?: string | null }
export interface Address { street: string; postal_code: string; city: string; country: string }
export interface Department { id: string; store_id: string; name: string }
export interface Store {
  id: string; name: string; address: Address; timezone: string; hours: WeeklyHours;
  exceptions: DateException[]; departments: Department[]; created_at: number; updated_at: number;
}
export interface ExpertFeatures { contacts: boolean; product_sharing: boolean; transfers: boolean }
export type ExpertStatus = 'pending' | 'approved' | 'deactivated';
export interface Expert {
  id: string; merchant_id: string; email: string; name: string; status: ExpertStatus;
  features: ExpertFeatures; max_chats: number; store_ids: string[]; department_ids: string[]; created_at: number;
}
export interface DisplaySettings {
  enabled: boolean; brand_name: string; logo_url?: string | null; primary_color: string;
  position: 'bottom-right' | 'bottom-left'; color_scheme: 'auto' | 'light' | 'dark';
  greeting: Record<string, string>; default_language: string; languages: string[];
  hidden_paths: string[]; show_when: 'always' | 'available_only' | 'opening_hours';
}
export interface RoutingSettings {
  contact_first_s: number; reoffer_every_s: number; missed_after_s: number;
  unanswered_reoffer_s: number; attribution_window_days: number;
}
export interface SavedReply { id: string; shortcut: string; title: string; body: string; updated_at: number }
export interface Shopper { id: string; name?: string | null; email?: string | null; created_at: number; last_seen_at: number }
export interface ApiKey { id: string; name: string; prefix: string; created_at: number; last_used_at?: number | null; revoked_at?: number | null }
export interface Page<T> { items: T[]; next_cursor?: string | null }

export interface FieldError { field: string; message: string }
export interface Problem { type: string; title: string; status: number; detail?: string | null; errors?: FieldError[] }

export class ApiError extends Error {
  status: number;
  problem: Problem;
  retryAfter: number | null;
  constructor(problem: Problem, retryAfter: number | null) {
    super(problem.detail || problem.title);
    this.status = problem.status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
  get fieldErrors(): FieldError[] { return this.problem.errors ?? []; }
}

/** Base of the API relative to the page: the dashboard lives at /dashboard/, the API at /api/. */
export const API_BASE = new URL('../api/v1/', document.baseURI).pathname;

let csrfToken = '';
export function setCsrf(token: string) { csrfToken = token; }

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();
/** Called when any request (other than the session probe and login) gets 401. */
export function onUnauthorized(fn: Listener) { unauthorizedListeners.add(fn); return () => unauthorizedListeners.delete(fn); }

export interface RequestOptions { body?: unknown; csv?: string; quiet401?: boolean; accept?: string }

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  let body: BodyInit | undefined;
  if (opts.csv !== undefined) {
    headers['Content-Type'] = 'text/csv';
    body = opts.csv;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(API_BASE + path.replace(/^\//, ''), { method, headers, body, credentials: 'same-origin' });
  } catch {
    throw new ApiError({ type: 'urn:floorwalker:problem:network', title: 'network', status: 0 }, null);
  }
  if (res.ok) {
    if (res.status === 204) return undefined as T;
    const type = res.headers.get('content-type') || '';
    if (type.includes('json')) return (await res.json()) as T;
    return (await res.text()) as unknown as T;
  }
  let problem: Problem;
  try {
    problem = await res.json();
    if (typeof problem !== 'object' || problem === null || !('status' in problem)) throw new Error();
  } catch {
    problem = { type: 'about:blank', title: res.statusText || 'error', status: res.status };
  }
  problem.status = res.status;
  const ra = res.headers.get('retry-after');
  const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : null;
  if (res.status === 401 && !opts.quiet401) unauthorizedListeners.forEach((fn) => fn());
  throw new ApiError(problem, retryAfter);
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, { ...opts, body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, { body }),
  del: <T = void>(path: string) => request<T>('DELETE', path),
};

/** Follows next_cursor until the end (for small collections such as stores and experts). */
export async function fetchAll<T>(path: string, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page: Page<T> = await api.get<Page<T>>(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

export function apiUrl(path: string) { return API_BASE + path.replace(/^\//, ''); }

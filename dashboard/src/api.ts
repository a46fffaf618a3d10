// Thin client for the Floorwalker REST API: session cookie + CSRF header, RFC 9457 problems.

export type Module =
  | 'analytics' | 'exports' | 'stores' | 'team' | 'settings' | 'saved_replies' | 'shoppers' | 'integrations'
  | 'catalogue' | 'orders';
export const ALL_MODULES: Module[] = [
  'analytics', 'exports', 'stores', 'team', 'settings', 'saved_replies', 'shoppers', 'integrations',
  'catalogue', 'orders',
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
/** `time_zone`: the IANA zone the merchant's figures are cut in (null for the operator). */
export interface Session { account: Account; csrf_token: string; time_zone?: string | null }

const HINT = 'fw_signed_in';
/** Whether this browser holds a session (the server's readable hint cookie). */
export function signedInHint(): boolean {
  return document.cookie.split(';').some((c) => c.trim() === HINT + '=1');
}
export function forgetSignedInHint() {
  document.cookie = `${HINT}=; Max-Age=0; path=/; SameSite=Lax`;
}
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
  /** IANA zone for Analytics and metrics.csv; null = the first store's. */
  report_timezone?: string | null;
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
  throw await apiError(res, opts.quiet401);
}

/** The ApiError for a failed response (RFC 9457 body if any); a 401 signs the dashboard out. */
export async function apiError(res: Response, quiet401 = false): Promise<ApiError> {
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
  if (res.status === 401 && !quiet401) unauthorizedListeners.forEach((fn) => fn());
  return new ApiError(problem, retryAfter);
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

// ---------- analytics, orders, journey, API-call log, demos ----------

export interface Metrics {
  requested: number; claimed: number; missed: number; abandoned: number; transferred: number;
  offline: number; ended: number; unanswered: number;
  claim_rate: number | null;
  time_to_claim_p50_s: number | null; time_to_claim_p90_s: number | null;
  first_response_p50_s: number | null; first_response_p90_s: number | null;
  avg_duration_s: number | null;
  messages: number; messages_shopper: number; messages_expert: number;
  csat_avg: number | null; csat_count: number; csat_distribution: number[];
  experts_available_avg: number | null;
  orders: number; revenue: Record<string, string>;
  /** Photos sent in chats, and photos retention deleted (issue 24). */
  photos?: number; photos_removed?: number;
  /** Video calls that started, and their minutes (issue 24). */
  video_calls?: number; minutes_on_video?: number;
}
export type Grain = 'minute' | 'hour' | 'day';
export interface Analytics {
  /** `time_zone`: the IANA zone whose days and hours the buckets are. */
  from: number; to: number; grain: Grain; currencies: string[]; time_zone?: string;
  totals: Metrics;
  series: { bucket: number; metrics: Metrics }[];
  experts: { expert_id: string; name: string; metrics: Metrics }[];
  stores: { store_id: string; name: string; metrics: Metrics }[];
}
/** `experts_available`: able to take a chat now; `experts_online`: switched on, busy or not. */
export interface LiveStore { store_id: string; name: string; waiting: number; active: number; experts_available: number; experts_online?: number }
export interface Live { at: number; waiting: number; active: number; experts_available: number; experts_online?: number; stores: LiveStore[] }

export type OrderStatus = 'placed' | 'paid' | 'fulfilled' | 'cancelled' | 'refunded';
export interface Order {
  order_id: string; shopper_id: string; amount: string; currency: string; status: OrderStatus | string;
  placed_at: number; updated_at: number; attributed: boolean; conversation_id: string | null;
  store_id: string | null; department_id: string | null; expert_id: string | null;
}
export interface JourneyProduct { id?: string | null; name: string; price?: number | null; currency?: string | null; image_url?: string | null; url?: string | null }
export interface PageView { at: number; url: string; title: string | null; product: JourneyProduct | null }
export interface JourneyEvent {
  at: number; kind: string; conversation_id: string | null; store_id: string | null;
  department_id: string | null; expert_id: string | null; value: number | null;
  /** `order_stage` only: the order and the stage it moved to. */
  detail?: { order_id?: string; stage?: string; carrier?: string | null; tracking_number?: string | null; tracking_url?: string | null } | null;
}
export interface JourneyConversation {
  id: string; status: string; store_id: string | null; store_name: string | null; department_id: string | null;
  department_name: string | null; expert_id: string | null; expert_name: string | null; created_at: number;
  claimed_at: number | null; ended_at: number | null; rating: number | { score: number; comment?: string | null } | null; messages: number;
}
/** An expert who is (`until` null) or was the shopper's contact. */
export interface ShopperContact { expert_id: string; expert_name: string; since: number; last_chat_at: number; until?: number | null }
export interface Journey { shopper: Shopper; page_views: PageView[]; events: JourneyEvent[]; conversations: JourneyConversation[]; orders: Order[]; contacts?: ShopperContact[] }

export interface ApiCall {
  id: string; api_key_id: string; api_key_name: string; method: string; path: string;
  status: number; duration_ms: number; at: number;
}

export interface Demo {
  id: string; slug: string; prospect_name: string; website: string | null; merchant_id: string; merchant_name: string;
  store_id: string | null; primary_color: string; background_color: string; logo: string | null; greeting: string | null;
  has_screenshot: boolean; url: string; created_at: number; updated_at: number;
}
export interface PublicStore { id: string; name: string; open: boolean; departments: { id: string; name: string }[] }

// ---------- outbound: outbox, webhooks, messaging (issue 21) ----------

export type OutboxKind = 'email' | 'sms' | 'webhook';
export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'dead';
export interface OutboxRow {
  id: string; merchant_id: string; kind: OutboxKind; template: string; recipient: string;
  endpoint_id?: string | null; conversation_id?: string | null; message_id: string;
  subject?: string | null; body_text?: string | null; body_html?: string | null; payload_json: string;
  status: OutboxStatus; attempts: number; next_attempt_at: number; give_up_at: number;
  last_error?: string | null; created_at: number; updated_at: number; sent_at?: number | null;
}
export interface OutboxAttempt {
  attempt: number; at: number; status_code?: number | null; latency_ms: number; response?: string | null; error?: string | null;
}
export interface OutboxDetail extends OutboxRow { unconfirmed: boolean; transactional: boolean; attempt_log: OutboxAttempt[] }
export interface WebhookEndpoint {
  id: string; url: string; description: string; events: string[]; enabled: boolean;
  disabled_reason?: string | null; failing_since?: number | null; last_success_at?: number | null; last_failure_at?: number | null;
  secret_prefix: string; previous_secret_until?: number | null; created_at: number; updated_at: number;
}
export interface EventTypeInfo { name: string; description: string; default_on: boolean }
export interface Suppression { channel: string; address: string; reason: 'bounce' | 'unsubscribe' | string; detail?: string | null; created_at: number }
export interface MessagingSettings {
  sender_name: string; sender_address?: string | null; reply_to?: string | null; away_email_after_min: number;
  sms: { enabled: boolean; base_url: string; account_sid: string; auth_token?: string | null; auth_token_set?: boolean; from: string };
}
export interface DeliveryResult { email: string; status: 'queued' | 'refused' | 'duplicate'; reason?: string | null; message_id?: string | null }

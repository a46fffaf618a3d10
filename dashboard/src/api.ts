// Thin client for the Floorwalker REST API: session cookie + CSRF header, RFC 9457 problems.

// The REST types come from the server's OpenAPI document: web-shared/api-types.ts is generated
// from web-shared/openapi.json (`./dev types`, tools/api-types). Never declare a response shape
// here; name a schema (`Schemas['Store']`) and add only what is genuinely client-side.
import type { components } from '../../web-shared/api-types';
import type { Product as WireProduct } from '../../web-shared/protocol';

export type Schemas = components['schemas'];

export type Module = Schemas['Module'];
export const ALL_MODULES: Module[] = [
  'analytics', 'exports', 'stores', 'team', 'settings', 'saved_replies', 'shoppers', 'integrations',
  'catalogue', 'orders',
];

export type Account = Schemas['Account'];
export type CreateAccountRequest = Schemas['CreateAccountRequest'];
/** `time_zone`: the IANA zone the merchant's figures are cut in (null for the operator). */
export type Session = Schemas['SessionView'];

const HINT = 'fw_signed_in';
/** Whether this browser holds a session (the server's readable hint cookie). */
export function signedInHint(): boolean {
  return document.cookie.split(';').some((c) => c.trim() === HINT + '=1');
}
export function forgetSignedInHint() {
  document.cookie = `${HINT}=; Max-Age=0; path=/; SameSite=Lax`;
}
export type Merchant = Schemas['Merchant'];
export type MerchantCreated = Schemas['MerchantCreated'];
export type Interval = Schemas['Interval'];
export type WeeklyHours = Schemas['WeeklyHours'];
export type Weekday = keyof WeeklyHours;
export const WEEKDAYS: Weekday[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
export type DateException = Schemas['DateException'];
export type Address = Schemas['Address'];
export type Department = Schemas['Department'];
export type Store = Schemas['Store'];
export type StoreInput = Schemas['StoreInput'];
export type StorePatch = Schemas['StorePatch'];
export type ExpertFeatures = Schemas['ExpertFeatures'];
export type ExpertStatus = Schemas['ExpertStatus'];
export type Expert = Schemas['Expert'];
export type InviteCode = Schemas['InviteCode'];
export type ReassignResult = Schemas['ReassignResult'];
export type DisplaySettings = Schemas['DisplaySettings'];
/** `report_timezone`: IANA zone for Analytics and metrics.csv; null = the first store's. */
export type RoutingSettings = Schemas['RoutingSettings'];
export type SavedReply = Schemas['SavedReply'];
export type Shopper = Schemas['Shopper'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type ImportSummary = Schemas['ImportSummary'];
export type UpsertSummary = Schemas['UpsertSummary'];
/** Every list answers `{items, next_cursor}` (the schema's `Page_Store`, `Page_Expert`, …). */
export interface Page<T> { items: T[]; next_cursor: string | null }

export type FieldError = Schemas['FieldError'];
export type Problem = Schemas['Problem'];

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
  let cursor: string | null = null;
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

export type Metrics = Schemas['Metrics'];
/** Client-side: the grains the Analytics page asks for (the schema's `grain` is a string). */
export type Grain = 'minute' | 'hour' | 'day';
export const grainOf = (g: string): Grain => (g === 'minute' || g === 'hour' ? g : 'day');
/** `time_zone`: the IANA zone whose days and hours the buckets are. */
export type Analytics = Schemas['Report'];
/** `experts_available`: able to take a chat now; `experts_online`: switched on, busy or not. */
export type LiveStore = Schemas['LiveStore'];
export type Live = Schemas['Live'];

export type Order = Schemas['Order'];
/** The Orders module: a row of the list, the detail page (cart, handling history, internal notes). */
export type OrderSummary = Schemas['OrderSummary'];
export type OrderDetail = Schemas['OrderDetail'];
export type OrderHistoryEntry = Schemas['OrderHistoryEntry'];
export type Product = Schemas['Product'];
export type ProductInput = Schemas['ProductInput'];
export type CheckoutSettings = Schemas['CheckoutSettings'];
export type CheckoutInput = Schemas['CheckoutInput'];
export type AttachmentSettings = Schemas['AttachmentSettings'];
/** Whether an expert's phone can be alerted while the store app is closed (Team). */
export type Alerting = Schemas['Alerting'];
/** The product a page showed: the schema has it as an untyped object; it is the chat protocol's Product. */
export type JourneyProduct = WireProduct;
export type PageView = Omit<Schemas['PageVisit'], 'product'> & { product?: JourneyProduct | null };
/** `detail` (`order_stage` only; untyped in the schema): the order and the stage it moved to. */
export interface JourneyEventDetail { order_id?: string; stage?: string; carrier?: string | null; tracking_number?: string | null; tracking_url?: string | null }
export type JourneyEvent = Omit<Schemas['JourneyEvent'], 'detail'> & { detail: JourneyEventDetail | null };
export type JourneyConversation = Schemas['JourneyConversation'];
/** An expert who is (`until` null) or was the shopper's contact. */
export type ShopperContact = Schemas['ShopperContact'];
export type Journey = Omit<Schemas['Journey'], 'page_views' | 'events'> & { page_views: PageView[]; events: JourneyEvent[] };

export type ApiCall = Schemas['ApiCall'];

export type Demo = Schemas['Demo'];
/** A store as the public widget configuration lists it (open now, its departments). */
export type PublicStore = Schemas['StoreAvailability'];
export type WidgetConfig = Schemas['WidgetConfig'];
export type Origins = Schemas['Origins'];
export type IdentitySecret = Schemas['IdentitySecret'];

// ---------- outbound: outbox, webhooks, messaging (issue 21) ----------

export type OutboxRow = Schemas['OutboxRow'];
export type OutboxAttempt = Schemas['AttemptRow'];
export type OutboxDetail = Schemas['OutboxDetail'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookCreated = Schemas['WebhookCreated'];
export type EventTypeInfo = Schemas['EventTypeInfo'];
export type Suppression = Schemas['Suppression'];
export type MessagingSettings = Schemas['MessagingSettings'];
/** What PUT settings/messaging takes (the SMS gateway's `auth_token` is write-only: never in answers). */
export type MessagingSettingsInput = MessagingSettings;
export type DeliveryResult = Schemas['DeliveryResult'];

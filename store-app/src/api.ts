// REST client for the store app: bearer token, RFC 9457 problem details.
//
// The REST types come from the server's OpenAPI document: web-shared/api-types.ts is generated
// from web-shared/openapi.json (`./dev types`, tools/api-types). Never declare a response shape
// here; name a schema (`Schemas['Expert']`) and add only what is genuinely client-side.
import type { components } from '../../web-shared/api-types';

export type Schemas = components['schemas'];
export type Features = Schemas['ExpertFeatures'];
export type ExpertStatus = Schemas['ExpertStatus'];
export type Expert = Schemas['Expert'];
export type FieldError = Schemas['FieldError'];
/** A problem document; `type` may be missing on one made here (a network failure, a non-JSON answer). */
export type Problem = Omit<Schemas['Problem'], 'type'> & { type?: string };
export type SavedReply = Schemas['SavedReply'];

export class ApiError extends Error {
  status: number;
  problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.status = problem.status;
    this.problem = problem;
  }
  field(name: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === name)?.message;
  }
}

/** The app lives at /app/, the API at /api/: resolve relative to the document. */
const API = new URL('../api/v1/', document.baseURI).pathname;

const TOKEN_KEY = 'fw.app.token';
export function getToken(): string | null { try { return localStorage.getItem(TOKEN_KEY); } catch { return null; } }
export function setToken(t: string | null) {
  try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch { /* private mode */ }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError({ title: 'network', status: 0 });
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const p = (data && typeof data === 'object' ? data : { title: res.statusText }) as Problem;
    throw new ApiError({ ...p, status: res.status });
  }
  return data as T;
}

export type TokenView = Schemas['ExpertTokenView'];
export const api = {
  signup: (b: { invite_code: string; email: string; name: string; password: string }) => request<TokenView>('POST', 'app/signup', b),
  login: (email: string, password: string) => request<TokenView>('POST', 'app/login', { email, password }),
  logout: () => request<void>('POST', 'app/logout'),
  me: () => request<Expert>('GET', 'app/me'),
  password: (current_password: string, new_password: string) => request<TokenView>('POST', 'app/password', { current_password, new_password }),
  savedReplies: (q: string) => request<SavedReply[] | { items: SavedReply[] }>('GET', `app/saved-replies?q=${encodeURIComponent(q)}`)
    .then((r) => (Array.isArray(r) ? r : r.items ?? [])),
};

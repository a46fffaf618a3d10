// REST client for the store app: bearer token, RFC 9457 problem details.

export interface Features { contacts: boolean; product_sharing: boolean; transfers: boolean }
export type ExpertStatus = 'pending' | 'approved' | 'deactivated';
export interface Expert {
  id: string; merchant_id: string; email: string; name: string; status: ExpertStatus;
  features: Features; max_chats: number; store_ids: string[]; department_ids: string[];
}
export interface FieldError { field: string; message: string }
export interface Problem { type?: string; title: string; status: number; detail?: string | null; errors?: FieldError[] }
export interface SavedReply { id: string; shortcut: string; title: string; body: string }

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

export interface TokenView { expert: Expert; token: string }
export const api = {
  signup: (b: { invite_code: string; email: string; name: string; password: string }) => request<TokenView>('POST', 'app/signup', b),
  login: (email: string, password: string) => request<TokenView>('POST', 'app/login', { email, password }),
  logout: () => request<void>('POST', 'app/logout'),
  me: () => request<Expert>('GET', 'app/me'),
  password: (current_password: string, new_password: string) => request<TokenView>('POST', 'app/password', { current_password, new_password }),
  savedReplies: (q: string) => request<SavedReply[] | { items: SavedReply[] }>('GET', `app/saved-replies?q=${encodeURIComponent(q)}`)
    .then((r) => (Array.isArray(r) ? r : r.items ?? [])),
};

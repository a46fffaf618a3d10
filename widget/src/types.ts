// Shapes shared by the loader and the panel (see docs/protocol.md).

export interface Product {
  id?: string;
  name: string;
  price?: number | string;
  currency?: string;
  image_url?: string;
  url?: string;
}

export interface Display {
  enabled?: boolean;
  brand_name?: string;
  logo_url?: string | null;
  primary_color?: string;
  position?: 'bottom-right' | 'bottom-left';
  color_scheme?: 'auto' | 'light' | 'dark';
  greeting?: Record<string, string>;
  default_language?: string;
  languages?: string[];
  hidden_paths?: string[];
  show_when?: 'always' | 'available_only' | 'opening_hours';
}

/** `experts_available`: able to take a chat now; `experts_online`: switched on, busy or not. */
export interface Department { id: string; name: string; experts_available: number; experts_online?: number }
export interface StoreInfo { id: string; name: string; open: boolean; departments: Department[] }
export interface Availability { open: boolean; experts_available: number; experts_online?: number }

export interface WidgetConfig {
  merchant_id: string;
  display: Display;
  stores: StoreInfo[];
  availability: Availability;
  /** The merchant can send SMS: the phone fields are offered only then. */
  sms?: boolean;
}

export interface Context {
  page_url?: string;
  page_title?: string;
  product?: Product;
  store_id?: string;
  department_id?: string;
  /** A department name to preselect (e.g. the product's category); the shopper can change it. */
  department?: string;
}

export interface Identity { email: string; name?: string; signature: string }

/** What the loader hands to the lazily loaded panel. */
export interface Host {
  origin: string;
  merchant: string;
  /** The sales demo's slug (`data-demo`), on a /demo/<slug> page. */
  demo: string;
  config: WidgetConfig;
  /** The `.fw` element inside the shadow root; the panel mounts into it. */
  root: HTMLElement;
  shadow: ShadowRoot;
  context: Context;
  identity: Identity | null;
  locale: string;
  emit(name: string, detail?: unknown): void;
  setUnread(count: number): void;
  /** Tell the loader the panel opened or closed (launcher state, focus return). */
  setOpen(open: boolean, returnFocus: boolean): void;
}

export interface PanelApi {
  open(): void;
  close(): void;
  isOpen(): boolean;
  /** Context, identity or locale changed. */
  update(): void;
}

export const PANEL_GLOBAL = '__floorwalkerPanel';

// Shapes shared by the loader and the panel (see docs/protocol.md).
import type { components } from '../../web-shared/api-types';

export interface Product {
  id?: string;
  name: string;
  price?: number | string;
  currency?: string;
  image_url?: string;
  url?: string;
}

// The widget config (`GET /api/v1/public/widget-config`) is the server's OpenAPI schema,
// generated into web-shared/api-types.ts (`./dev types`): never declare a response shape here.
type Schemas = components['schemas'];
/** The merchant's display settings (Settings → display). */
export type Display = Schemas['DisplaySettings'];
/** `experts_available`: able to take a chat now; `experts_online`: switched on, busy or not. */
export type Department = Schemas['DepartmentAvailability'];
export type StoreInfo = Schemas['StoreAvailability'];
export type Availability = Schemas['WidgetAvailability'];
/** `sms`: the merchant can send SMS; the phone fields are offered only then. */
export type WidgetConfig = Schemas['WidgetConfig'];
/** The answer to `POST /api/v1/widget/reopen` (a "continue the conversation" link). */
export type Reopened = Schemas['Reopened'];

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

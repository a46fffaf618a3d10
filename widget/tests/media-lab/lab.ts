// A test bench for the widget's photo and call pieces (not shipped): renders them inside a
// panel-shaped box in a shadow root, as the panel will (issue 24, part 2). Served by the tests.
import { PANEL_CSS } from '../../src/panel/css';
import { MEDIA_CSS } from '../../src/panel/media/css';
import { attachControls, mediaConfig, photoBubble, fetchAttachment, type WidgetMediaContext } from '../../src/panel/media/attach';
import { callView } from '../../src/panel/media/call-view';
import { Call, type Signal, type SignalChannel } from '../../../web-shared/media/call';

const listeners = new Set<(s: Signal) => void>();
const channel: SignalChannel = {
  send: (s) => (window as any).__signalOut?.(JSON.stringify(s)),
  listen: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
};
(window as any).__signalIn = (json: string) => { for (const fn of [...listeners]) fn(JSON.parse(json)); };

const p = new URLSearchParams(location.search);
const ctx: WidgetMediaContext = { base: location.origin, merchant: p.get('merchant') ?? '', token: p.get('token') ?? '', lang: p.get('lang') ?? 'en' };
const conversation = p.get('conversation') ?? '';
const dark = p.get('dark') === '1';

const host = document.getElementById('root') as HTMLElement;
const shadow = host.attachShadow({ mode: 'open' });
const sheet = new CSSStyleSheet();
sheet.replaceSync(PANEL_CSS + MEDIA_CSS + `.fw{--fw-bg:${dark ? '#15181c' : '#fff'};--fw-fg:${dark ? '#eef1f4' : '#1b1f24'};--fw-primary:#0f5f4a;--fw-on-primary:#fff;--fw-line:${dark ? '#3a4048' : '#d6dbe0'};--fw-soft:${dark ? '#22272e' : '#eef3f1'};--fw-muted:${dark ? '#aab3bd' : '#59636e'};font:16px/1.4 system-ui,sans-serif}
.fw-panel{position:relative;bottom:auto;right:auto;width:min(380px,100vw);height:min(640px,100vh)}
.fw-log{flex:1;overflow:auto;padding:12px;display:flex;flex-direction:column;gap:10px}
.fw-compose{display:flex;align-items:center;gap:6px;padding:8px;border-top:1px solid var(--fw-line)}
.fw-compose textarea{flex:1}`);
shadow.adoptedStyleSheets = [sheet];
const root = document.createElement('div');
root.className = 'fw';
root.dir = ctx.lang === 'fa' ? 'rtl' : 'ltr';
const panel = document.createElement('div');
panel.className = 'fw-panel';
const callSlot = document.createElement('div');
const log = document.createElement('div');
log.className = 'fw-log';
log.setAttribute('aria-label', 'transcript');
const trays = document.createElement('div');
const compose = document.createElement('div');
compose.className = 'fw-compose';
const input = document.createElement('textarea');
input.rows = 1;
input.setAttribute('aria-label', 'Message');
compose.append(input);
panel.append(callSlot, log, trays, compose);
root.append(panel);
shadow.append(root);

const lab = {
  config: null as any,
  sent: [] as any[],
  async init() {
    lab.config = await mediaConfig(ctx);
    if (lab.config?.photos) {
      const { el, tray } = attachControls(ctx, conversation, (a) => { lab.sent.push(a); log.append(photoBubble(ctx, a, 'shopper', root)); }, lab.config);
      compose.prepend(el);
      trays.append(tray);
    }
    return lab.config;
  },
  async showAttachment(id: string) {
    const a = await fetchAttachment(ctx, id);
    if (a) log.append(photoBubble(ctx, a, a.uploaded_by === 'expert' ? 'expert' : 'shopper', root));
    return a;
  },
  showView(a: any) { log.append(photoBubble(ctx, a, a.uploaded_by === 'expert' ? 'expert' : 'shopper', root)); },
  call: null as Call | null,
  answer(callId: string) {
    const call = new Call({ channel, callId, role: 'answerer', iceServers: lab.config?.ice_servers ?? [] });
    lab.call = call;
    const view = callView(call, ctx.lang, 'Anna', () => { view.destroy(); view.el.remove(); });
    callSlot.append(view.el);
    return true;
  },
  shadow,
};
(window as any).__lab = lab;

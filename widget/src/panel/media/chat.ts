// media.js — photos and video calls in the shopper's chat panel (issue 24 part 2). A separate,
// lazily loaded bundle (served at /widget/media.js): the panel loads it once the chat is with
// an expert, or when a photo or a call arrives, so pages where nobody chats never pay for it.
// It registers a factory on a one-shot global that the panel picks up (as panel.js does for
// the loader). Everything it draws goes into the panel's shadow root; no inline styles or
// scripts (the panel runs under a strict CSP).
import { adopt } from '../../util';
import { h } from '../dom';
import type { Message } from '../client';
import { MEDIA_CSS } from './css';
import { attachControls, fetchAttachment, mediaConfig, photoBubble, type WidgetMediaConfig, type WidgetMediaContext } from './attach';
import { callView } from './call-view';
import { ChatCall, isCallFrame } from '../../../../web-shared/media/chat-call';
import type { CallIn, CallOut } from '../../../../web-shared/protocol';
import { callTime, mt } from '../../../../web-shared/media/i18n';
import type { AttachmentView } from '../../../../web-shared/media/upload';

export const MEDIA_GLOBAL = '__floorwalkerMedia';

export interface ChatMediaDeps {
  shadow: ShadowRoot;
  /** The Floorwalker server's origin. */
  base: string;
  merchant: string;
  lang: () => string;
  token: () => string | null;
  /** Where the full-size viewer opens (the panel). */
  panel: HTMLElement;
  /** The call's place above the transcript. */
  callSlot: HTMLElement;
  sendCall: (frame: CallIn) => boolean;
  sendAttachment: (conversationId: string, attachmentId: string) => void;
  expertName: () => string;
  /** Something changed size (a photo loaded, the call opened): keep the log at the bottom. */
  changed: () => void;
}

export interface ChatMedia {
  onCallFrame(f: CallOut): void;
  reconnected(): void;
  /** Fill a photo message's placeholder. */
  photo(el: HTMLElement, m: Message): void;
  /** The text of a call line of the transcript, or null. */
  sysText(m: Message): string | null;
  /** Put the attach button (where the merchant allows shopper photos) and its tray in place. */
  attach(buttonSlot: HTMLElement, traySlot: HTMLElement, conversationId: string): void;
}

function createChatMedia(d: ChatMediaDeps): ChatMedia {
  adopt(d.shadow, MEDIA_CSS);
  const ctx = (): WidgetMediaContext => ({ base: d.base, merchant: d.merchant, token: d.token() || '', lang: d.lang() });
  let config: WidgetMediaConfig | null = null;
  let configP: Promise<WidgetMediaConfig | null> | null = null;
  const loadConfig = () => {
    configP ??= mediaConfig(ctx()).then((c) => { config = c; if (!c) configP = null; return c; });
    return configP;
  };
  void loadConfig();

  // ---- calls (one conversation at a time: the widget's current chat) ----
  let chatCall: ChatCall | null = null;
  let view: { el: HTMLElement; destroy(): void } | null = null;
  const showCall = () => {
    const call = chatCall?.call ?? null;
    if (!call) { view?.destroy(); view = null; d.callSlot.replaceChildren(); d.callSlot.hidden = true; return; }
    if (!view || view.el.dataset.callId !== call.id) {
      view?.destroy();
      view = callView(call, d.lang(), d.expertName(), () => { chatCall?.dismiss(); });
      view.el.dataset.callId = call.id;
      d.callSlot.replaceChildren(view.el);
      d.callSlot.hidden = false;
      d.changed();
    }
  };
  const callFor = (conversationId: string) => {
    if (!chatCall || chatCall.conversationId !== conversationId) {
      chatCall?.dismiss();
      chatCall = new ChatCall({ conversationId, role: 'answerer', send: (f) => d.sendCall(f), iceServers: () => config?.ice_servers ?? [] });
      chatCall.onChange(showCall);
    }
    return chatCall;
  };

  // ---- photos ----
  const views = new Map<string, Promise<AttachmentView | null>>();
  const view_ = (id: string) => {
    let p = views.get(id);
    if (!p) {
      p = fetchAttachment(ctx(), id);
      views.set(id, p);
      setTimeout(() => views.delete(id), 8 * 60_000);
    }
    return p;
  };

  return {
    onCallFrame(f) {
      if (!isCallFrame(f)) return;
      // An offer opens the call view; other frames only matter to a call that exists.
      if (f.type === 'call_offer' || chatCall?.conversationId === f.conversation_id) callFor(f.conversation_id).onFrame(f);
    },
    reconnected() { chatCall?.reconnected(); },
    photo(el, m) {
      const id = (m.data as { attachment_id?: unknown } | null | undefined)?.attachment_id;
      if (typeof id !== 'string') return;
      const from = m.author.role === 'shopper' ? 'shopper' : 'expert';
      el.setAttribute('aria-busy', 'true');
      void view_(id).then((a) => {
        el.removeAttribute('aria-busy');
        el.replaceChildren(a ? photoBubble(ctx(), a, from, d.panel) : h('p', { class: 'fw-photo-gone' }, mt(d.lang(), 'photo.loadFailed')));
        d.changed();
      });
    },
    sysText(m) {
      if (m.body === 'call_started') return mt(d.lang(), 'call.logStarted');
      if (m.body === 'call_ended') {
        const ms = Number((m.data as { duration_ms?: number } | null)?.duration_ms ?? 0);
        return mt(d.lang(), 'call.log', { time: callTime(Math.round(ms / 1000)) });
      }
      return null;
    },
    attach(buttonSlot, traySlot, conversationId) {
      void loadConfig().then((c) => {
        if (!c?.photos || !buttonSlot.isConnected) return;
        const { el, tray } = attachControls(ctx(), conversationId, (a) => d.sendAttachment(conversationId, a.id), c);
        buttonSlot.replaceChildren(el);
        traySlot.replaceChildren(tray);
      });
    },
  };
}

(window as unknown as Record<string, unknown>)[MEDIA_GLOBAL] = createChatMedia;

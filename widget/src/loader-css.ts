// The launcher's styles. `:host` declarations are !important: for important rules the shadow
// tree wins over the page, so `* { all: unset !important }` or `display:none!important` on the
// page cannot hide or move the widget. `all: initial` stops inherited page styles (font, colour,
// direction, line-height) from leaking in. Where the Popover API exists, `.fw` is a manual
// popover shown in the top layer (a 0×0 box; the launcher and panel inside are fixed to the
// viewport), so no overlay or stacking context on the page can cover it.
export const LOADER_CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483647!important;inset:auto!important;width:0!important;height:0!important;margin:0!important;padding:0!important;border:0!important;overflow:visible!important;visibility:visible!important;opacity:1!important;transform:none!important;contain:none!important}
.fw{--fw-accent:var(--fw-accent-light);--fw-bg:#fff;--fw-fg:#1b1f24;--fw-muted:#57606a;--fw-line:#d0d7de;--fw-soft:#f3f5f7;--fw-shadow:0 12px 40px rgba(0,0,0,.22),0 2px 6px rgba(0,0,0,.12);font:400 15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Vazirmatn",Tahoma,Arial,sans-serif;color:var(--fw-fg);-webkit-font-smoothing:antialiased;text-align:start;letter-spacing:normal;word-spacing:normal;text-transform:none;white-space:normal}
.fw[data-scheme=dark]{--fw-accent:var(--fw-accent-dark);--fw-bg:#16191d;--fw-fg:#e8ebef;--fw-muted:#a5adb7;--fw-line:#3a414a;--fw-soft:#22272e;--fw-shadow:0 12px 40px rgba(0,0,0,.6),0 0 0 1px #3a414a}
@media (prefers-color-scheme:dark){.fw[data-scheme=auto]{--fw-accent:var(--fw-accent-dark);--fw-bg:#16191d;--fw-fg:#e8ebef;--fw-muted:#a5adb7;--fw-line:#3a414a;--fw-soft:#22272e;--fw-shadow:0 12px 40px rgba(0,0,0,.6),0 0 0 1px #3a414a}}
.fw[popover]{position:fixed;inset:auto;width:0;height:0;margin:0;padding:0;border:0;background:none;overflow:visible;color:var(--fw-fg)}
.fw[popover]::backdrop{display:none}
.fw *,.fw *::before,.fw *::after{box-sizing:border-box}
.fw [hidden]{display:none!important}
.fw svg{width:24px;height:24px;fill:currentColor;display:block;flex:none}
:where(.fw) :where(button){font:inherit;color:inherit;cursor:pointer}
.fw-launch{position:fixed;bottom:20px;right:20px;width:60px;height:60px;border-radius:50%;border:2px solid var(--fw-on-primary);background:var(--fw-primary);color:var(--fw-on-primary);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(0,0,0,.28);padding:0;margin:0;transition:transform .15s ease}
.fw-launch:hover{transform:scale(1.06)}
.fw-launch svg{width:28px;height:28px}
.fw[data-pos=left] .fw-launch{right:auto;left:20px}
.fw-launch:focus-visible,.fw-greet button:focus-visible{outline:3px solid var(--fw-fg);outline-offset:3px;box-shadow:0 0 0 6px var(--fw-bg)}
.fw-i-close,.fw-open .fw-i-chat{display:none!important}
.fw-open .fw-i-close{display:block!important}
.fw-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#c62828;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;border:2px solid #fff}
.fw-badge:empty{display:none}
.fw-nolaunch .fw-launch{display:none}
.fw-greet{position:fixed;bottom:92px;right:20px;max-width:min(280px,calc(100vw - 40px));display:flex;align-items:flex-start;background:var(--fw-bg);color:var(--fw-fg);border-radius:16px;box-shadow:var(--fw-shadow);animation:fw-pop .25s ease-out}
.fw[data-pos=left] .fw-greet{right:auto;left:20px}
.fw-greet-text{flex:1;text-align:start;background:none;border:0;padding:14px 4px 14px 16px;min-height:44px;font-size:15px;line-height:1.4;border-radius:16px}
.fw[dir=rtl] .fw-greet-text{padding:14px 16px 14px 4px}
.fw-greet-x{flex:none;width:44px;height:44px;border:0;background:none;display:flex;align-items:center;justify-content:center;color:var(--fw-muted);border-radius:12px;padding:0}
.fw-greet-x svg{width:18px;height:18px}
@keyframes fw-pop{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
@media (prefers-reduced-motion:reduce){.fw *{animation:none!important;transition:none!important}}
@media (max-width:480px){.fw-launch{bottom:16px;right:16px}.fw[data-pos=left] .fw-launch{left:16px}.fw-greet{bottom:84px;right:16px}.fw[data-pos=left] .fw-greet{left:16px}}
`;

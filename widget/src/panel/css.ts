// The panel's styles, adopted into the loader's shadow root (no <style>, no inline attributes).
export const PANEL_CSS = `
.fw-panel{position:fixed;bottom:96px;right:20px;width:380px;height:min(640px,calc(100vh - 120px));height:min(640px,calc(100dvh - 120px));display:flex;flex-direction:column;background:var(--fw-bg);color:var(--fw-fg);border-radius:16px;box-shadow:var(--fw-shadow);overflow:hidden;overflow:clip;animation:fw-in .2s ease-out}
.fw[data-pos=left] .fw-panel{right:auto;left:20px}
@keyframes fw-in{from{opacity:0;transform:translateY(12px) scale(.98)}to{opacity:1;transform:none}}
.fw-head{display:flex;align-items:center;gap:10px;padding:12px 8px 12px 16px;background:var(--fw-primary);color:var(--fw-on-primary);flex:none}
.fw[dir=rtl] .fw-head{padding:12px 16px 12px 8px}
.fw-logo{width:auto;min-width:40px;max-width:min(88px,24%);height:40px;padding:3px;border-radius:10px;object-fit:contain;background:#fff;flex:none}
.fw-avatar{width:40px;height:40px;border-radius:50%;display:flex;align-items:center;justify-content:center;border:2px solid currentColor;flex:none}
.fw-avatar svg{width:20px;height:20px}
.fw-head-text{flex:1;min-width:0}
.fw-title{margin:0;font-size:16px;font-weight:700;line-height:1.25;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.fw-sub{margin:2px 0 0;font-size:13px;line-height:1.3;overflow:hidden;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical}
.fw-icon-btn{width:44px;height:44px;min-width:44px;border:0;border-radius:10px;background:transparent;display:flex;align-items:center;justify-content:center;padding:0;color:inherit}
.fw-icon-btn:hover{background:rgba(127,127,127,.18)}
.fw-text-btn{min-height:44px;border:0;background:transparent;padding:0 10px;border-radius:10px;font-weight:600;font-size:14px;text-decoration:underline;text-underline-offset:3px;color:inherit}
.fw-text-btn:hover{background:rgba(127,127,127,.14)}
.fw-head .fw-end{font-size:13px;white-space:nowrap}
.fw button:focus-visible,.fw input:focus-visible,.fw textarea:focus-visible,.fw a:focus-visible,.fw-log:focus-visible{outline:3px solid var(--fw-focus,#1a73e8);outline-offset:2px}
.fw-head button:focus-visible{outline-color:currentColor;outline-offset:-4px}
.fw-confirm{display:flex;align-items:center;flex-wrap:wrap;gap:8px;padding:8px 16px;background:var(--fw-soft);border-bottom:1px solid var(--fw-line)}
.fw-confirm p{margin:0;flex:1 1 100%;font-weight:600}
.fw-conn:not(:empty),.fw-err:not(:empty){padding:8px 16px;font-size:14px;font-weight:600}
.fw-conn:not(:empty){background:var(--fw-soft);color:var(--fw-fg);font-weight:500;font-size:13px;padding:6px 16px;border-bottom:1px solid var(--fw-line)}
.fw-err:not(:empty){background:#fde7e9;color:#8a1020}
.fw-body{flex:1;min-height:0;display:flex;flex-direction:column;overflow:auto}
.fw-pad{padding:16px}
.fw-center{display:flex;flex-direction:column;align-items:center;text-align:center;gap:12px;margin:auto 0}
.fw-form{display:flex;flex-direction:column;gap:14px}
.fw-greeting{margin:0;font-size:18px;font-weight:650;line-height:1.35}
.fw-h3{margin:0;font-size:17px;font-weight:700;padding:0}
.fw-lead{margin:0;font-size:16px}
.fw-muted{margin:0;color:var(--fw-muted);font-size:14px}
.fw-field{display:flex;flex-direction:column;gap:6px;border:0;margin:0;padding:0;min-width:0}
.fw-field legend,.fw-label{font-weight:600;font-size:14px;padding:0;margin:0 0 6px}
.fw-label{margin:0}
.fw input[type=email],.fw input[type=text],.fw textarea{font:inherit;color:var(--fw-fg);background:var(--fw-bg);border:1px solid var(--fw-muted);border-radius:10px;padding:10px 12px;min-height:44px;width:100%;margin:0;resize:none;line-height:1.4}
.fw textarea::placeholder,.fw input::placeholder{color:var(--fw-muted);opacity:1}
.fw [aria-invalid=true]{border-color:#c62828;border-width:2px}
.fw-field-err{margin:0;color:#b3261e;font-size:14px;font-weight:600}
.fw-field-err:empty{display:none}
.fw[data-scheme=dark] .fw-field-err{color:#ffb4ab}
@media (prefers-color-scheme:dark){.fw[data-scheme=auto] .fw-field-err{color:#ffb4ab}}
.fw-opt{position:relative;margin:0 0 4px}
.fw-opt input{position:absolute;opacity:0;width:1px;height:1px;margin:0}
.fw-opt label{display:flex;align-items:center;justify-content:space-between;gap:8px;min-height:44px;padding:8px 12px;border:1px solid var(--fw-line);border-radius:12px;cursor:pointer;background:var(--fw-bg)}
.fw-opt label::before{content:"";width:18px;height:18px;border-radius:50%;border:2px solid var(--fw-muted);flex:none;box-sizing:border-box}
.fw-opt-name{flex:1;font-weight:550}
.fw-opt-note{font-size:13px;color:var(--fw-muted)}
.fw-opt-note.fw-ok::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#1e8e3e;margin-inline-end:6px;vertical-align:1px}
.fw-opt input:checked+label{border:2px solid var(--fw-accent);padding:7px 11px;background:var(--fw-soft)}
.fw-opt input:checked+label::before{border:5px solid var(--fw-accent)}
.fw-opt input:focus-visible+label{outline:3px solid var(--fw-focus,#1a73e8);outline-offset:2px}
.fw-opt input:disabled+label{opacity:.6;cursor:not-allowed}
.fw-chips{display:flex;flex-wrap:wrap;gap:6px}
.fw-chip{margin:0}
.fw-chip label{min-height:44px;padding:8px 14px;border-radius:22px;justify-content:flex-start;gap:6px;font-weight:550}
.fw-chip label::before{display:none}
.fw-chip input:checked+label{padding:7px 13px}
.fw-dot{width:8px;height:8px;border-radius:50%;background:#1e8e3e;flex:none}
.fw-btn{display:inline-flex;align-items:center;justify-content:center;min-height:48px;padding:0 20px;border-radius:12px;border:2px solid transparent;background:var(--fw-primary);color:var(--fw-on-primary);font-weight:700;font-size:15px;width:100%}
.fw-btn:hover{filter:brightness(1.08)}
.fw-btn:disabled{opacity:.7;cursor:progress}
.fw-btn-small{width:auto;min-height:44px;font-size:14px}
.fw-block{align-self:center}
.fw-about{display:flex;flex-direction:column;gap:6px}
.fw-card{display:flex;gap:12px;align-items:center;border:1px solid var(--fw-line);border-radius:12px;padding:10px;background:var(--fw-bg);color:var(--fw-fg);text-align:start;margin-top:6px}
.fw-card img{width:64px;height:64px;border-radius:8px;object-fit:cover;flex:none;background:var(--fw-soft)}
.fw-card-ph{width:64px;height:64px;border-radius:8px;flex:none;background:var(--fw-soft);color:var(--fw-muted);display:flex;align-items:center;justify-content:center}
.fw-card-ph svg{width:28px;height:28px;opacity:.8}
.fw-card-compact img,.fw-card-compact .fw-card-ph{width:48px;height:48px}
.fw-conn{display:flex;align-items:center;gap:8px}
.fw-spinner-small{width:14px;height:14px;border-width:2px}
.fw-card-text{display:flex;flex-direction:column;gap:2px;min-width:0}
.fw-card-text strong{font-weight:650;line-height:1.3}
.fw-price{color:var(--fw-muted);font-size:14px}
.fw-card-link{color:var(--fw-fg);font-weight:600;font-size:14px;min-height:32px;display:inline-flex;align-items:center;text-underline-offset:3px}
.fw-chat{display:flex;flex-direction:column;flex:1;min-height:0}
.fw-scroll{flex:1;min-height:0;overflow-y:auto;padding:12px 14px 4px;overscroll-behavior:contain}
.fw-queue{display:flex;flex-wrap:wrap;gap:0 12px;align-items:center;padding:12px 14px;margin:0 0 12px;border-radius:12px;background:var(--fw-soft)}
.fw-queue>span:nth-child(2){display:flex;flex-direction:column;flex:1 1 calc(100% - 40px)}
.fw-leave{font-size:13px;padding:0 6px;margin:0 0 -10px 28px;min-height:44px}
.fw[dir=rtl] .fw-leave{margin:0 28px -10px 0}
.fw-spinner{width:22px;height:22px;border-radius:50%;border:3px solid var(--fw-line);border-top-color:var(--fw-accent);flex:none;animation:fw-spin 1s linear infinite}
@keyframes fw-spin{to{transform:rotate(360deg)}}
.fw-log{display:flex;flex-direction:column;gap:4px;outline:none}
.fw-msg{display:flex;flex-direction:column;max-width:82%;margin-top:4px}
.fw-own{align-self:flex-end;align-items:flex-end}
.fw-their{align-self:flex-start;align-items:flex-start}
.fw-who{font-size:12px;font-weight:650;color:var(--fw-muted);margin:6px 4px 2px}
.fw-bubble{position:relative;padding:9px 13px;border-radius:18px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;font-size:15px;line-height:1.4}
.fw-bubble p{margin:0}
.fw-own .fw-bubble{background:var(--fw-primary);color:var(--fw-on-primary);border-end-end-radius:6px}
.fw-their .fw-bubble{background:var(--fw-soft);color:var(--fw-fg);border-end-start-radius:6px}
.fw-bubble a{color:inherit;text-decoration:underline}
.fw-pending .fw-bubble{opacity:.75}
.fw-time{font-size:11px;color:var(--fw-muted);margin:2px 6px 0}
.fw-sys{align-self:center;text-align:center;font-size:13px;color:var(--fw-muted);margin:10px 12px;padding:3px 10px;border-radius:10px;background:var(--fw-soft)}
.fw-receipt{margin:2px 4px 0;font-size:12px;color:var(--fw-muted);text-align:end}
.fw-typing{display:flex;align-items:center;gap:8px;margin:8px 2px;font-size:13px;color:var(--fw-muted)}
.fw-dots{display:inline-flex;gap:3px;padding:8px 10px;background:var(--fw-soft);border-radius:12px}
.fw-dots i{width:6px;height:6px;border-radius:50%;background:var(--fw-muted);animation:fw-blink 1.2s infinite ease-in-out}
.fw-dots i:nth-child(2){animation-delay:.2s}.fw-dots i:nth-child(3){animation-delay:.4s}
@keyframes fw-blink{0%,80%,100%{opacity:.3}40%{opacity:1}}
.fw-foot{flex:none;border-top:1px solid var(--fw-line);background:var(--fw-bg)}
.fw-compose{display:flex;align-items:flex-end;gap:6px;padding:8px 8px 8px 12px}
.fw[dir=rtl] .fw-compose{padding:8px 12px 8px 8px}
.fw-compose textarea{flex:1;border-radius:22px;padding:11px 16px;max-height:120px;overflow-y:auto}
.fw-send{background:var(--fw-primary);color:var(--fw-on-primary);border-radius:50%}
.fw-send:hover{background:var(--fw-primary);filter:brightness(1.1)}
.fw[dir=rtl] .fw-flip{transform:scaleX(-1)}
.fw-rate{padding:14px 16px;display:flex;flex-direction:column;gap:10px}
.fw-stars{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:2px}
.fw-stars legend{margin-bottom:6px;width:100%}
.fw-stars label{width:44px;height:44px;display:flex;align-items:center;justify-content:center;cursor:pointer;color:var(--fw-muted);border-radius:10px}
.fw-stars label svg{width:32px;height:32px;fill:none;stroke:currentColor;stroke-width:1.6}
.fw-stars label.fw-on{color:#b26a00}
.fw-stars label.fw-on svg{fill:#f4b400;stroke:#b26a00}
.fw-stars input:focus-visible+label{outline:3px solid var(--fw-focus,#1a73e8)}
.fw-row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.fw-transcript{padding:0 16px 12px;display:flex;flex-direction:column;gap:8px}
.fw-transcript .fw-rate{padding:0}
.fw-rate .fw-transcript{padding:0}
.fw-row .fw-btn{width:auto;flex:1}
.fw-done-icon{width:56px;height:56px;border-radius:50%;background:#e6f4ea;color:#1e6b34;display:flex;align-items:center;justify-content:center}
.fw-done-icon svg{width:32px;height:32px}
.fw-done-icon.fw-warn{background:#fff4ce;color:#6b4f00}
.fw-sr,.fw-sr-input{position:absolute!important;top:0;left:0;width:1px!important;height:1px!important;padding:0!important;margin:-1px!important;overflow:hidden!important;clip:rect(0,0,0,0)!important;white-space:nowrap!important;border:0!important}
.fw[data-scheme=dark]{--fw-focus:#8ab4f8}
@media (prefers-color-scheme:dark){.fw[data-scheme=auto]{--fw-focus:#8ab4f8}}
@media (max-width:480px),(max-height:520px){.fw[data-pos] .fw-panel{inset:0;width:auto;height:auto;border-radius:0}.fw input[type=email],.fw input[type=text],.fw textarea{font-size:16px}.fw.fw-open .fw-launch,.fw.fw-open .fw-greet{display:none}}
@media (prefers-reduced-motion:reduce){.fw-panel,.fw-spinner,.fw-dots i{animation:none!important}}
`;

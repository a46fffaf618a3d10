// Styles of the photo and call pieces, to add to the panel's shadow root (PANEL_CSS + MEDIA_CSS).
export const MEDIA_CSS = `
.fw-call-slot{flex:none}
.fw-photo-slot{min-width:120px}
.fw-photo-slot+div{margin-top:6px}
.fw-attach-slot{display:flex}
.fw-bubble:has(>.fw-photo-slot){padding:4px}
.fw-bubble>.fw-photo-slot+div{padding:2px 8px 4px}
.fw-attach{display:flex}
.fw-attach input{display:none}
.fw-uploads{list-style:none;margin:0;padding:6px 12px;display:grid;gap:6px;border-top:1px solid var(--fw-line)}
.fw-upload{display:flex;align-items:center;gap:10px}
.fw-upload-prev{width:40px;height:40px;border-radius:8px;object-fit:cover;background:var(--fw-soft);flex:none}
.fw-upload-body{flex:1;min-width:0}
.fw-upload-text{margin:0 0 3px;font-size:13px;color:var(--fw-muted)}
.fw-upload[data-upload=failed] .fw-upload-text{color:#b3261e;font-weight:600}
.fw-upload progress{width:100%;height:6px;accent-color:var(--fw-primary)}
.fw-photo{display:block;padding:0;border:0;border-radius:12px;overflow:hidden;background:var(--fw-soft);max-width:100%;cursor:zoom-in}
.fw-photo img{display:block;width:100%;height:100%;object-fit:cover}
.fw-photo-gone{display:inline-flex;align-items:center;gap:6px;margin:0;padding:8px 12px;border:1px dashed var(--fw-line);border-radius:12px;color:var(--fw-muted);font-style:italic;font-size:14px}
.fw-photo-gone svg,.fw-attach svg,.fw-call svg{width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.fw-viewer{position:fixed;inset:0;z-index:2;display:flex;align-items:center;justify-content:center;background:rgba(0,0,0,.86)}
.fw-viewer img{max-width:100vw;max-height:100vh;object-fit:contain}
.fw-viewer .fw-icon-btn{position:absolute;top:10px;inset-inline-end:10px;background:rgba(0,0,0,.55);color:#fff}
.fw-call{background:#0b0f0e;color:#fff;flex:none}
.fw-call-stage{position:relative;aspect-ratio:4/3;width:100%;max-width:calc(46vh * 4 / 3);margin:0 auto;background:#000;overflow:hidden}
.fw-call-stage>video{width:100%;height:100%;object-fit:cover}
.fw-call-self{position:absolute;bottom:8px;inset-inline-end:8px;width:28%;max-width:110px;aspect-ratio:3/4;border-radius:10px;overflow:hidden;border:2px solid rgba(255,255,255,.8)}
.fw-call-self video{width:100%;height:100%;object-fit:cover;transform:scaleX(-1)}
.fw-call-status{position:absolute;top:8px;inset-inline-start:8px;margin:0;padding:3px 10px;border-radius:999px;background:rgba(0,0,0,.6);font-size:13px;font-variant-numeric:tabular-nums}
.fw-call-bar{display:flex;justify-content:center;gap:12px;padding:8px}
.fw-call-btn{width:48px;height:48px;border-radius:50%;border:0;display:flex;align-items:center;justify-content:center;background:rgba(255,255,255,.16);color:#fff;cursor:pointer;padding:0}
.fw-call-btn[aria-pressed=true]{background:#fff;color:#111}
.fw-call-btn.fw-end-call{background:#d93025}
.fw-call-btn:focus-visible{outline:3px solid #8ab4ff;outline-offset:2px}
.fw-call-ask,.fw-call-problem,.fw-call-done{padding:12px 14px;display:flex;flex-direction:column;gap:8px}
.fw-call-ask p,.fw-call-problem p,.fw-call-done p{margin:0;font-size:14px;line-height:1.4}
.fw-call-ask h3,.fw-call-problem h3{margin:0;font-size:15px}
.fw-call-actions{display:flex;flex-wrap:wrap;gap:8px}
.fw-call-actions button{min-height:44px;padding:0 14px;border-radius:22px;border:1px solid rgba(255,255,255,.5);background:transparent;color:#fff;font:inherit;font-weight:600;cursor:pointer}
.fw-call-actions button:first-child{background:#fff;color:#111;border-color:#fff}
`;

// The sample shop's catalogue. Pictures are drawn as SVG (no external assets).
export const products = [
  {
    id: 'nh-tv-55', slug: 'aurora-55-oled', name: 'Aurora 55" 4K OLED TV', price: 12990, currency: 'SEK', category: 'TV & Audio',
    blurb: 'Deep blacks, Dolby Vision and a stand that hides every cable.',
    bg: ['#1d2b4f', '#3c5a99'],
    art: '<rect x="40" y="58" width="240" height="140" rx="8" fill="#0b0f1a"/><rect x="48" y="66" width="224" height="124" rx="4" fill="url(#s)"/><path d="M48 160 Q110 110 160 140 T272 120 V190 H48Z" fill="#ffffff" opacity=".18"/><rect x="150" y="198" width="20" height="18" fill="#0b0f1a"/><rect x="112" y="214" width="96" height="8" rx="4" fill="#0b0f1a"/>',
    defs: '<linearGradient id="s" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ff8a5c"/><stop offset=".5" stop-color="#c04fd1"/><stop offset="1" stop-color="#2b59ff"/></linearGradient>',
  },
  {
    id: 'nh-hp-fjall', slug: 'fjall-headphones', name: 'Fjäll Wireless Headphones', price: 2490, currency: 'SEK', category: 'TV & Audio',
    blurb: '40 hours of quiet: adaptive noise cancelling in soft wool felt.',
    bg: ['#e9e3d8', '#d4c8b4'],
    art: '<path d="M95 170 V135 a65 65 0 0 1 130 0 V170" fill="none" stroke="#3b3a36" stroke-width="14" stroke-linecap="round"/><rect x="72" y="150" width="46" height="72" rx="20" fill="#5b574f"/><rect x="202" y="150" width="46" height="72" rx="20" fill="#5b574f"/><rect x="82" y="160" width="26" height="52" rx="12" fill="#8d877b"/><rect x="212" y="160" width="26" height="52" rx="12" fill="#8d877b"/>',
  },
  {
    id: 'nh-lamp-linne', slug: 'linne-table-lamp', name: 'Linne Table Lamp', price: 899, currency: 'SEK', category: 'Furniture',
    blurb: 'Hand-pleated linen shade on a solid oak base. Warm, dimmable light.',
    bg: ['#f4efe6', '#eadfcb'],
    art: '<ellipse cx="160" cy="120" rx="90" ry="30" fill="#fff3c4" opacity=".7"/><path d="M110 70 H210 L240 140 H80Z" fill="#f6f1e7" stroke="#d9ccb2" stroke-width="3"/><path d="M120 70 L100 140 M140 70 L130 140 M160 70 V140 M180 70 L190 140 M200 70 L220 140" stroke="#e2d6bd" stroke-width="2"/><rect x="152" y="140" width="16" height="62" fill="#a97c50"/><ellipse cx="160" cy="210" rx="48" ry="12" fill="#8a6240"/>',
  },
  {
    id: 'nh-esp-kvarn', slug: 'kvarn-espresso', name: 'Kvarn Espresso Machine', price: 5490, currency: 'SEK', category: 'Kitchen',
    blurb: 'Dual boiler, built-in grinder and a steam wand baristas love.',
    bg: ['#dfe7e4', '#b9cbc5'],
    art: '<rect x="86" y="60" width="148" height="150" rx="12" fill="#c9ced1"/><rect x="86" y="60" width="148" height="40" rx="12" fill="#2f3437"/><rect x="120" y="112" width="80" height="14" rx="7" fill="#2f3437"/><rect x="146" y="126" width="28" height="20" fill="#2f3437"/><rect x="136" y="168" width="48" height="34" rx="6" fill="#ffffff"/><path d="M184 176 q14 0 14 10 t-14 10" fill="none" stroke="#ffffff" stroke-width="5"/><circle cx="110" cy="80" r="7" fill="#e0b354"/>',
  },
  {
    id: 'nh-chair-ek', slug: 'ek-lounge-chair', name: 'Ek Lounge Chair', price: 6990, currency: 'SEK', category: 'Furniture',
    blurb: 'Solid oak frame and a deep seat in recycled bouclé.',
    bg: ['#ece6f1', '#d3c6df'],
    art: '<path d="M100 90 q60 -30 120 0 v70 h-120z" fill="#efe9dc"/><rect x="92" y="150" width="136" height="34" rx="14" fill="#f5f0e4"/><path d="M100 184 L90 226 M220 184 L230 226 M120 184 L116 214 M200 184 L204 214" stroke="#a97c50" stroke-width="8" stroke-linecap="round"/>',
  },
  {
    id: 'nh-spk-strand', slug: 'strand-speaker', name: 'Strand Bluetooth Speaker', price: 1290, currency: 'SEK', category: 'TV & Audio',
    blurb: 'Waterproof, 24-hour battery and sound that fills the whole terrace.',
    bg: ['#ffe1d2', '#ffb79a'],
    art: '<rect x="110" y="70" width="100" height="150" rx="40" fill="#2d3a3a"/><circle cx="160" cy="125" r="28" fill="#455757"/><circle cx="160" cy="125" r="14" fill="#2d3a3a"/><circle cx="160" cy="184" r="16" fill="#455757"/><rect x="150" y="58" width="20" height="16" rx="4" fill="#2d3a3a"/>',
  },
];

export function svgFor(p, { title = true } = {}) {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 260" role="img" aria-label="${title ? p.name.replace(/"/g, '&quot;') : ''}"><defs><linearGradient id="bg-${p.slug}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${p.bg[0]}"/><stop offset="1" stop-color="${p.bg[1]}"/></linearGradient>${p.defs || ''}</defs><rect width="320" height="260" fill="url(#bg-${p.slug})"/>${p.art}</svg>`;
}

export function priceText(p) {
  return new Intl.NumberFormat('sv-SE', { style: 'currency', currency: p.currency, maximumFractionDigits: 0 }).format(p.price);
}

// A table whose column headers sort it: each header is a button (Enter / Space), and the sorted
// column carries aria-sort. Missing values (null) always sort last.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';

export interface Column<R> {
  key: string;
  label: string;
  value: (r: R) => number | string | null;
  render?: (r: R) => ComponentChildren;
  numeric?: boolean;
  hideSm?: boolean;
  /** Hidden below 1440 px, where the table would scroll sideways. */
  hideMd?: boolean;
}

export function SortableTable<R>({ rows, columns, rowKey, caption, initial, rowHeader = 0 }: {
  rows: R[]; columns: Column<R>[]; rowKey: (r: R) => string; caption: string;
  initial?: { key: string; dir: 'ascending' | 'descending' }; rowHeader?: number;
}) {
  const { t, lang } = useI18n();
  const [sort, setSort] = useState(initial ?? { key: columns[0].key, dir: 'ascending' as const });
  const col = columns.find((c) => c.key === sort.key) ?? columns[0];
  const sorted = [...rows].sort((a, b) => {
    const va = col.value(a), vb = col.value(b);
    if (va === null && vb === null) return 0;
    if (va === null) return 1;
    if (vb === null) return -1;
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb), lang);
    return sort.dir === 'ascending' ? c : -c;
  });
  const toggle = (c: Column<R>) => setSort((s) => s.key === c.key
    ? { key: c.key, dir: s.dir === 'ascending' ? 'descending' : 'ascending' }
    : { key: c.key, dir: c.numeric ? 'descending' : 'ascending' });
  return (
    <div class="table-wrap">
      <table class="table sortable">
        <caption class="visually-hidden">{caption}{', '}{t('table.sortedBy', { column: col.label, dir: t(sort.dir === 'ascending' ? 'table.ascending' : 'table.descending') })}</caption>
        <thead><tr>
          {columns.map((c) => (
            <th key={c.key} scope="col" class={(c.numeric ? 'num' : '') + (c.hideSm ? ' hide-sm' : '') + (c.hideMd ? ' hide-md' : '')} aria-sort={sort.key === c.key ? sort.dir : undefined}>
              <button type="button" class="sort-btn" onClick={() => toggle(c)}>
                <span>{c.label}</span>
                <svg class="sort-icon" width="10" height="14" viewBox="0 0 10 14" aria-hidden="true" focusable="false">
                  <path d="M5 1 9 5H1z" class={sort.key === c.key && sort.dir === 'ascending' ? 'on' : ''} />
                  <path d="M5 13 1 9h8z" class={sort.key === c.key && sort.dir === 'descending' ? 'on' : ''} />
                </svg>
              </button>
            </th>
          ))}
        </tr></thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c, i) => {
                const content = c.render ? c.render(r) : c.value(r) ?? '—';
                const cls = (c.numeric ? 'num' : '') + (c.hideSm ? ' hide-sm' : '') + (c.hideMd ? ' hide-md' : '');
                return i === rowHeader ? <th key={c.key} scope="row" class={cls + ' strong'}>{content}</th> : <td key={c.key} class={cls}>{content}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

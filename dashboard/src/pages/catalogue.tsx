// Catalogue (issue 22, module `catalogue`): the products experts put in carts. A searchable
// list (the server's search: name, SKU, GTIN; accents and case ignored), a dialog to create or
// edit one product, removal, and CSV export/import (all or nothing, with the per-row errors the
// server reports, like the saved-replies import).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiUrl, ApiError, type FieldError, type Page, type Product, type ProductInput, type UpsertSummary } from '../api';
import { useI18n } from '../i18n';
import {
  Badge, ConfirmDialog, Dialog, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, Switch, TextField,
  errorMessage, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';

export function CataloguePage() {
  const { t, dateTime, money } = useI18n();
  const toast = useToast();
  const [q, setQ] = useState('');
  const [items, setItems] = useState<Product[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(0);
  const [loadingMore, setLoadingMore] = useState(false);
  const [everAny, setEverAny] = useState<boolean | null>(null);
  const [editing, setEditing] = useState<Product | 'new' | null>(null);
  const [removing, setRemoving] = useState<Product | null>(null);
  const [busy, setBusy] = useState(false);
  const [removeErr, setRemoveErr] = useState<string | null>(null);
  const [importResult, setImportResult] = useState<{ ok?: string; errors?: FieldError[]; message?: string } | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const reload = () => setN((x) => x + 1);

  const path = (cursor?: string | null) => `catalogue/products?limit=50${q.trim() ? `&q=${encodeURIComponent(q.trim())}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api.get<Page<Product>>(path()).then((p) => {
        if (!live) return;
        setItems(p.items); setNext(p.next_cursor); setError(null);
        if (!q.trim()) setEverAny(p.items.length > 0); else if (p.items.length) setEverAny(true);
      }, (e) => { if (live) setError(e); });
    }, q ? 200 : 0);
    return () => { live = false; clearTimeout(timer); };
  }, [q, n]);
  const more = async () => {
    if (!next) return;
    setLoadingMore(true);
    try { const p = await api.get<Page<Product>>(path(next)); setItems([...(items ?? []), ...p.items]); setNext(p.next_cursor); }
    catch (e) { toast(errorMessage(t, e)); }
    finally { setLoadingMore(false); }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await api.del('catalogue/products/' + encodeURIComponent(removing.id));
      toast(t('cat.removed', { name: removing.name }));
      setRemoving(null);
      reload();
    } catch (e) { setRemoveErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };

  const onFile = async (e: Event) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setImportResult(null);
    try {
      const text = await file.text();
      const r = await api.post<UpsertSummary>('catalogue/import', undefined, { csv: text });
      setImportResult({ ok: t('cat.imported', { created: r.created, updated: r.updated }) });
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) setImportResult({ message: t('cat.importFailed'), errors: err.fieldErrors });
      else setImportResult({ message: errorMessage(t, err) });
    }
  };

  return (
    <>
      <PageHeader title={t('module.catalogue')} lead={t('cat.lead')}
        actions={<button type="button" class="btn btn-primary" onClick={() => setEditing('new')}><Icon name="plus" size={18} />{t('cat.new')}</button>} />
      <section class="card toolbar-card" aria-label={t('cat.csv')}>
        <div class="csv-actions">
          <a class="btn btn-secondary" href={apiUrl('catalogue/export.csv')} download="catalogue.csv" id="export-csv">
            <Icon name="download" size={18} />{t('cat.export')}
          </a>
          <input type="file" accept=".csv,text/csv" ref={fileRef} id="import-csv" class="visually-hidden" onChange={onFile} tabIndex={-1} aria-hidden="true" />
          <button type="button" class="btn btn-secondary" onClick={() => fileRef.current?.click()}>
            <Icon name="upload" size={18} />{t('cat.import')}
          </button>
          <p class="hint">{t('cat.csvHint')}</p>
        </div>
        {importResult?.ok && <p class="alert alert-success" role="status"><Icon name="check" />{importResult.ok}</p>}
        {importResult?.message && (
          <div class="alert alert-error" role="alert">
            <Icon name="alert" />
            <div>
              <p class="alert-title">{importResult.message}</p>
              {importResult.errors && (
                <ul class="error-list">{importResult.errors.map((x) => <li key={x.field + x.message}><strong dir="ltr">{x.field}</strong>: {x.message}</li>)}</ul>
              )}
            </div>
          </div>
        )}
      </section>

      {error ? <LoadError error={error} retry={reload} /> : items === null ? <Loading /> : everAny === false && !q.trim() ? (
        <EmptyState icon="catalogue" title={t('cat.emptyTitle')}><p>{t('cat.emptyBody')}</p></EmptyState>
      ) : (
        <section class="card" aria-labelledby="cat-title">
          <div class="card-head">
            <h2 id="cat-title">{t('module.catalogue')}</h2>
            <div class="search">
              <label for="cat-search" class="visually-hidden">{t('cat.search')}</label>
              <Icon name="search" size={18} />
              <input id="cat-search" type="search" value={q} placeholder={t('cat.search')} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
            </div>
          </div>
          {items.length === 0 ? <p class="muted" role="status">{t('cat.noMatch')}</p> : (
            <div class="table-wrap">
              <table class="table catalogue-table">
                <thead><tr>
                  <th scope="col">{t('cat.sku')}</th>
                  <th scope="col">{t('cat.name')}</th>
                  <th scope="col" class="num">{t('cat.price')}</th>
                  <th scope="col" class="hide-sm num">{t('cat.vat')}</th>
                  <th scope="col" class="hide-sm">{t('cat.updated')}</th>
                  <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                </tr></thead>
                <tbody>
                  {items.map((p) => (
                    <tr key={p.id} data-sku={p.sku}>
                      <td class="nowrap"><code dir="ltr">{p.sku}</code></td>
                      <td class="strong"><span dir="auto">{p.name}</span>{!p.active && <> <Badge kind="muted">{t('cat.inactive')}</Badge></>}</td>
                      <td class="nowrap num">{money(p.price, p.currency)}</td>
                      <td class="nowrap num hide-sm">{p.vat_rate}</td>
                      <td class="nowrap muted small hide-sm">{dateTime(p.updated_at)}</td>
                      <td class="cell-actions">
                        <button type="button" class="btn btn-ghost btn-small" onClick={() => setEditing(p)} aria-label={t('cat.editNamed', { name: p.name })}>
                          <Icon name="edit" size={16} /><span class="hide-sm">{t('common.edit')}</span>
                        </button>
                        <button type="button" class="btn btn-ghost btn-small" onClick={() => { setRemoveErr(null); setRemoving(p); }} aria-label={t('cat.removeNamed', { name: p.name })}>
                          <Icon name="trash" size={16} /><span class="hide-sm">{t('common.remove')}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {next && <div class="load-more"><button type="button" class="btn btn-secondary" onClick={more} disabled={loadingMore}>{t('common.loadMore')}</button></div>}
        </section>
      )}
      <ProductDialog product={editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); reload(); }} />
      <ConfirmDialog open={!!removing} title={t('cat.removeTitle', { name: removing?.name ?? '' })}
        message={<p>{t('cat.removeBody')}</p>} confirmLabel={t('common.remove')} danger busy={busy} error={removeErr}
        onConfirm={remove} onClose={() => setRemoving(null)} />
    </>
  );
}

const EMPTY = { sku: '', name: '', description: '', price: '', currency: 'SEK', vat_rate: '25', image_url: '', product_url: '', gtin: '', active: true };

function ProductDialog({ product, onClose, onSaved }: { product: Product | 'new' | null; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [v, setV] = useState({ ...EMPTY });
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => {
    f.clear();
    if (product && product !== 'new') {
      setV({ sku: product.sku, name: product.name, description: product.description ?? '', price: product.price, currency: product.currency,
        vat_rate: product.vat_rate, image_url: product.image_url ?? '', product_url: product.product_url ?? '', gtin: product.gtin ?? '', active: product.active });
    } else setV({ ...EMPTY });
  }, [product]);
  const set = (k: keyof typeof EMPTY) => (x: string) => setV({ ...v, [k]: x });
  const submit = async () => {
    f.clear();
    const local: FieldError[] = [];
    const price = v.price.trim().replace(',', '.');
    const vat = v.vat_rate.trim().replace(',', '.');
    if (!/^\S{1,64}$/.test(v.sku.trim())) local.push({ field: 'sku', message: t('cat.skuRule') });
    if (!v.name.trim()) local.push({ field: 'name', message: t('common.required') });
    if (!/^\d{1,8}(\.\d{1,3})?$/.test(price)) local.push({ field: 'price', message: t('cat.priceRule') });
    if (!/^[A-Za-z]{3}$/.test(v.currency.trim())) local.push({ field: 'currency', message: t('cat.currencyRule') });
    if (!/^\d{1,3}(\.\d{1,2})?$/.test(vat) || Number(vat) > 100) local.push({ field: 'vat_rate', message: t('cat.vatRule') });
    for (const k of ['image_url', 'product_url'] as const) if (v[k].trim() && !/^https?:\/\/\S+$/i.test(v[k].trim())) local.push({ field: k, message: t('cat.httpsRule') });
    if (v.gtin.trim() && !/^(\d{8}|\d{12,14})$/.test(v.gtin.trim())) local.push({ field: 'gtin', message: t('cat.gtinRule') });
    if (local.length) { f.setLocal(local); return; }
    const body: ProductInput = {
      sku: v.sku.trim(), name: v.name.trim(), description: v.description.trim() || null, price, currency: v.currency.trim().toUpperCase(),
      vat_rate: vat, image_url: v.image_url.trim() || null, product_url: v.product_url.trim() || null, gtin: v.gtin.trim() || null, active: v.active,
    };
    setBusy(true);
    try {
      if (product === 'new') await api.post('catalogue/products', body);
      else if (product) await api.put('catalogue/products/' + encodeURIComponent(product.id), body);
      toast(t('common.saved'));
      onSaved();
    } catch (x) {
      if (x instanceof ApiError && x.status === 409) f.setLocal([{ field: 'sku', message: x.problem.detail || x.problem.title }]);
      else f.fromError(x);
    } finally { setBusy(false); }
  };
  const labels = (k: string) => ({
    sku: t('cat.sku'), name: t('cat.name'), description: t('cat.description'), price: t('cat.price'), currency: t('cat.currency'),
    vat_rate: t('cat.vat'), image_url: t('cat.imageUrl'), product_url: t('cat.productUrl'), gtin: t('cat.gtin'),
  } as Record<string, string>)[k];
  return (
    <Dialog open={!!product} onClose={onClose} title={product === 'new' ? t('cat.new') : t('cat.edit')} onSubmit={submit} wide
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.save')}</button>
      </>}>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <div class="grid-2">
          <TextField name="sku" label={t('cat.sku')} value={v.sku} onValue={set('sku')} error={f.errors.sku} class="mono" dir="ltr" autocomplete="off" spellcheck={false} maxLength={64} />
          <TextField name="gtin" label={t('cat.gtin')} value={v.gtin} onValue={set('gtin')} error={f.errors.gtin} dir="ltr" inputMode="numeric" autocomplete="off" />
        </div>
        <TextField name="name" label={t('cat.name')} value={v.name} onValue={set('name')} error={f.errors.name} maxLength={200} />
        <Field name="description" label={t('cat.description')} error={f.errors.description}>
          {({ id, describedBy, invalid }) => (
            <textarea id={id} rows={3} value={v.description} dir="auto" maxLength={2000} aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setV({ ...v, description: (e.target as HTMLTextAreaElement).value })} />
          )}
        </Field>
        <div class="grid-3">
          <TextField name="price" label={t('cat.price')} hint={t('cat.priceHint')} value={v.price} onValue={set('price')} error={f.errors.price} dir="ltr" inputMode="decimal" />
          <TextField name="currency" label={t('cat.currency')} value={v.currency} onValue={set('currency')} error={f.errors.currency} dir="ltr" maxLength={3} autocapitalize="characters" />
          <TextField name="vat_rate" label={t('cat.vat')} value={v.vat_rate} onValue={set('vat_rate')} error={f.errors.vat_rate} dir="ltr" inputMode="decimal" />
        </div>
        <TextField name="product_url" label={t('cat.productUrl')} type="url" value={v.product_url} onValue={set('product_url')} error={f.errors.product_url} dir="ltr" placeholder="https://" />
        <TextField name="image_url" label={t('cat.imageUrl')} type="url" value={v.image_url} onValue={set('image_url')} error={f.errors.image_url} dir="ltr" placeholder="https://" />
        <Switch checked={v.active} onChange={(a) => setV({ ...v, active: a })} label={t('cat.active')} hint={t('cat.activeHint')} id="product-active" />
      </div>
    </Dialog>
  );
}

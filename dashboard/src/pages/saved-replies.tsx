import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiUrl, ApiError, fetchAll, type FieldError, type ImportSummary, type SavedReply } from '../api';
import { useI18n } from '../i18n';
import {
  ConfirmDialog, Dialog, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, TextField,
  errorMessage, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';

const MAX_BODY = 2000;

export function SavedRepliesPage() {
  const { t, date } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => fetchAll<SavedReply>('saved-replies'), []);
  const [q, setQ] = useState('');
  const [editing, setEditing] = useState<SavedReply | 'new' | null>(null);
  const [removing, setRemoving] = useState<SavedReply | null>(null);
  const [busy, setBusy] = useState(false);
  const [removeErr, setRemoveErr] = useState<string | null>(null);
  const [importResult, setImportResult] = useState<{ ok?: string; errors?: FieldError[]; message?: string } | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  const list = (data ?? []).filter((r) => {
    const s = q.trim().toLowerCase();
    return !s || r.shortcut.toLowerCase().includes(s) || r.title.toLowerCase().includes(s) || r.body.toLowerCase().includes(s);
  }).sort((a, b) => a.shortcut.localeCompare(b.shortcut));

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await api.del('saved-replies/' + encodeURIComponent(removing.id));
      toast(t('replies.removed', { name: '/' + removing.shortcut }));
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
      const r = await api.post<ImportSummary>('saved-replies/import', undefined, { csv: text });
      setImportResult({ ok: t('replies.imported', { created: r.created, updated: r.updated }) });
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) setImportResult({ message: t('replies.importFailed'), errors: err.fieldErrors });
      else setImportResult({ message: errorMessage(t, err) });
    }
  };

  return (
    <>
      <PageHeader title={t('module.saved_replies')} lead={t('replies.lead')}
        actions={<>
          <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}><Icon name="plus" size={18} />{t('replies.new')}</button>
        </>} />
      <section class="card toolbar-card" aria-label={t('replies.csv')}>
        <div class="csv-actions">
          <a class="btn btn-secondary" href={apiUrl('saved-replies/export.csv')} download="saved-replies.csv" id="export-csv">
            <Icon name="download" size={18} />{t('replies.export')}
          </a>
          <input type="file" accept=".csv,text/csv" ref={fileRef} id="import-csv" class="visually-hidden" onChange={onFile} tabIndex={-1} aria-hidden="true" />
          <button type="button" class="btn btn-secondary" onClick={() => fileRef.current?.click()}>
            <Icon name="upload" size={18} />{t('replies.import')}
          </button>
          <p class="hint">{t('replies.csvHint')}</p>
        </div>
        {importResult?.ok && <p class="alert alert-success" role="status"><Icon name="check" />{importResult.ok}</p>}
        {importResult?.message && (
          <div class="alert alert-error" role="alert">
            <Icon name="alert" />
            <div>
              <p class="alert-title">{importResult.message}</p>
              {importResult.errors && (
                <ul class="error-list">{importResult.errors.map((x) => <li key={x.field + x.message}><strong>{x.field}</strong>: {x.message}</li>)}</ul>
              )}
            </div>
          </div>
        )}
      </section>

      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : (data ?? []).length === 0 ? (
        <EmptyState icon="saved_replies" title={t('replies.emptyTitle')}><p>{t('replies.emptyBody')}</p></EmptyState>
      ) : (
        <section class="card" aria-labelledby="replies-title">
          <div class="card-head">
            <h2 id="replies-title">{t('replies.all', { n: data!.length })}</h2>
            <div class="search">
              <label for="reply-search" class="visually-hidden">{t('replies.search')}</label>
              <Icon name="search" size={18} />
              <input id="reply-search" type="search" value={q} placeholder={t('replies.search')} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
            </div>
          </div>
          {list.length === 0 ? <p class="muted">{t('replies.noMatch')}</p> : (
            <div class="table-wrap">
              <table class="table replies-table">
                <thead><tr>
                  <th scope="col">{t('replies.shortcut')}</th>
                  <th scope="col">{t('replies.titleField')}</th>
                  <th scope="col" class="hide-sm">{t('replies.body')}</th>
                  <th scope="col" class="hide-sm">{t('replies.updated')}</th>
                  <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                </tr></thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td class="nowrap"><code dir="ltr">/{r.shortcut}</code></td>
                      <td class="strong">{r.title}</td>
                      <td class="body-cell hide-sm"><div class="clamp-2">{r.body}</div></td>
                      <td class="nowrap muted small hide-sm">{date(r.updated_at)}</td>
                      <td class="cell-actions">
                        <button type="button" class="btn btn-ghost btn-small" onClick={() => setEditing(r)} aria-label={t('replies.editNamed', { name: '/' + r.shortcut })}>
                          <Icon name="edit" size={16} /><span class="hide-sm">{t('common.edit')}</span>
                        </button>
                        <button type="button" class="btn btn-ghost btn-small" onClick={() => { setRemoveErr(null); setRemoving(r); }} aria-label={t('replies.removeNamed', { name: '/' + r.shortcut })}>
                          <Icon name="trash" size={16} /><span class="hide-sm">{t('common.remove')}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      <ReplyDialog reply={editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); reload(); }} />
      <ConfirmDialog open={!!removing} title={t('replies.removeTitle', { name: '/' + (removing?.shortcut ?? '') })}
        message={<p>{t('replies.removeBody')}</p>} confirmLabel={t('common.remove')} danger busy={busy} error={removeErr}
        onConfirm={remove} onClose={() => setRemoving(null)} />
    </>
  );
}

function ReplyDialog({ reply, onClose, onSaved }: { reply: SavedReply | 'new' | null; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [shortcut, setShortcut] = useState('');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => {
    f.clear();
    if (reply && reply !== 'new') { setShortcut(reply.shortcut); setTitle(reply.title); setBody(reply.body); }
    else { setShortcut(''); setTitle(''); setBody(''); }
  }, [reply]);
  const submit = async () => {
    f.clear();
    const local: FieldError[] = [];
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(shortcut.trim())) local.push({ field: 'shortcut', message: t('replies.shortcutRule') });
    if (!title.trim()) local.push({ field: 'title', message: t('common.required') });
    if (!body.trim()) local.push({ field: 'body', message: t('common.required') });
    if (body.length > MAX_BODY) local.push({ field: 'body', message: t('replies.tooLong', { n: MAX_BODY }) });
    if (local.length) { f.setLocal(local); return; }
    setBusy(true);
    const input = { shortcut: shortcut.trim(), title: title.trim(), body: body.trim() };
    try {
      if (reply === 'new') await api.post('saved-replies', input);
      else if (reply) await api.put('saved-replies/' + encodeURIComponent(reply.id), input);
      toast(t('common.saved'));
      onSaved();
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({ shortcut: t('replies.shortcut'), title: t('replies.titleField'), body: t('replies.body') } as Record<string, string>)[k];
  return (
    <Dialog open={!!reply} onClose={onClose} title={reply === 'new' ? t('replies.new') : t('replies.edit')} onSubmit={submit} wide
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.save')}</button>
      </>}>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <TextField name="shortcut" label={t('replies.shortcut')} hint={t('replies.shortcutHint')} value={shortcut} onValue={setShortcut}
          error={f.errors.shortcut} class="narrow mono" dir="ltr" autocomplete="off" spellcheck={false} />
        <TextField name="title" label={t('replies.titleField')} value={title} onValue={setTitle} error={f.errors.title} />
        <Field name="body" label={t('replies.body')} hint={t('replies.bodyHint', { n: body.length, max: MAX_BODY, count: MAX_BODY })} error={f.errors.body}>
          {({ id, describedBy, invalid }) => (
            <textarea id={id} rows={6} value={body} dir="auto" aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
          )}
        </Field>
      </div>
    </Dialog>
  );
}

// The photo and call icons (shared path data) drawn like the app's own icons.
import { MEDIA_ICONS } from '../../../web-shared/media/icons';

export function MIcon({ name, size = 24 }: { name: string; size?: number }) {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false"
      fill="none" stroke="currentColor" stroke-width={2} stroke-linecap="round" stroke-linejoin="round">
      <path d={MEDIA_ICONS[name] ?? ''} />
    </svg>
  );
}

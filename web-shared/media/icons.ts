// 24×24 stroke icons (round caps) for the photo and call controls of both apps.
export const MEDIA_ICONS: Record<string, string> = {
  camera: 'M4 8h3l2-3h6l2 3h3v11H4V8zm8 9a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
  image: 'M4 5h16v14H4V5zm0 11 4.5-4.5L13 16m-1.5-1.5L15 11l5 5M9 9.5h.01',
  video: 'M3 7h12v10H3V7zm12 4 6-4v10l-6-4',
  videoOff: 'M3 7h12v10H3V7zm12 4 6-4v10l-6-4M2 3l20 18',
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zm-7 9a7 7 0 0 0 14 0M12 19v3',
  micOff: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zm-7 9a7 7 0 0 0 14 0M12 19v3M3 3l18 18',
  flip: 'M4 8h3l2-3h6l2 3h3v11H4V8zm5 5a3 3 0 0 1 5.2-2M15 13a3 3 0 0 1-5.2 2M14 9v2h-2M10 17v-2h2',
  hangup: 'M3 14c5-5 13-5 18 0l-2.5 2.5-3-2v-2.5a9 9 0 0 0-7 0V14.5l-3 2L3 14z',
  close: 'M6 6l12 12M18 6L6 18',
};

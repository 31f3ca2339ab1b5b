// The app runs in the browser only (camera, WebRTC); the server serves the built shell.
export const ssr = false;
export const prerender = false;

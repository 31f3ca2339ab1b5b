import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

const server = process.env.MEET_DEV_SERVER ?? 'http://localhost:3000';

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    // `npm run dev -w web`: hot reload against a running `npm start` server.
    proxy: {
      '/api': server,
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
    },
  },
});

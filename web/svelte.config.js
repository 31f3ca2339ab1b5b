import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    // A single-page app served by the Fastify server: every unknown path gets 200.html.
    adapter: adapter({ fallback: '200.html' }),
  },
};

export default config;

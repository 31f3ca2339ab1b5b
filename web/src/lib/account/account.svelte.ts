// This browser's account, as the account page shows it: a guest or signed in, its sessions,
// and signing up, in and out.
import { accountResponseSchema, sessionListSchema, type AccountView, type SessionView } from '@meet/protocol';
import { api, ApiError } from '$lib/api';

export class AccountState {
  /** undefined: no identity in this browser yet (nothing to sign up from). */
  current = $state<AccountView | undefined>();
  sessions = $state<SessionView[]>([]);
  loaded = $state(false);
  busy = $state(false);
  error = $state<string | undefined>();
  /** OpenID Connect providers one may sign in with. */
  providers = $state<Array<{ id: string; name: string }>>([]);

  async load(): Promise<void> {
    try {
      this.providers = (
        await api<{ providers: Array<{ id: string; name: string }> }>('GET', '/api/auth/oidc')
      ).providers;
      this.current = accountResponseSchema.parse(await api('GET', '/api/account')).account;
      this.sessions = this.current.signedIn
        ? sessionListSchema.parse(await api('GET', '/api/account/sessions')).sessions
        : [];
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
      this.current = undefined;
      this.sessions = [];
    } finally {
      this.loaded = true;
    }
  }

  async #do(work: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    this.error = undefined;
    try {
      await work();
      return true;
    } catch (error) {
      this.error = (error as Error).message;
      return false;
    } finally {
      this.busy = false;
      await this.load().catch((error: Error) => (this.error = error.message));
    }
  }

  signUp(email: string, password: string, displayName: string): Promise<boolean> {
    return this.#do(() => api('POST', '/api/account/signup', { email, password, displayName }));
  }

  signIn(email: string, password: string): Promise<boolean> {
    return this.#do(() => api('POST', '/api/account/signin', { email, password }));
  }

  signOut(): Promise<boolean> {
    return this.#do(() => api('POST', '/api/account/signout'));
  }

  signOutEverywhere(): Promise<boolean> {
    return this.#do(() => api('POST', '/api/account/signout-everywhere'));
  }

  revoke(sessionId: string): Promise<boolean> {
    return this.#do(() => api('DELETE', `/api/account/sessions/${sessionId}`));
  }
}

/**
 * The life of a one-shot data listener, apart from its sockets so it can be tested with fake timers.
 *
 *   waiting ──take()──▶ accepted          (the one connection; the listener closes)
 *   waiting ──release()──▶ grace ──take()──▶ accepted
 *                            └──(graceMs)──▶ closed
 *   waiting/grace ──expire / release(superseded)──▶ closed
 *
 * Why a grace: the engine releases a lease when the transfer's final reply (226) passes. The data
 * connection travels on another socket, and an SSH server may relay the 226 before it opens the
 * forwarded-tcpip channel for that connection (OpenSSH: two sockets, no ordering between them). A
 * listener cancelled at once would then lose a tiny transfer that already happened on the server.
 * So a released listener that has not accepted yet stays open briefly, still for one connection and
 * still peer-checked by its owner. A listener superseded by a newer PASV/PORT of the same session
 * never carried a transfer, and closes at once.
 */
export type GateState = 'waiting' | 'grace' | 'accepted' | 'closed';

export const DEFAULT_RELEASE_GRACE_MS = 2000;

export class OneShotGate {
  private current: GateState = 'waiting';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Stops the listener; called once, on accept or on close. */
    private readonly stopListening: () => void,
    idleMs: number,
    private readonly graceMs = DEFAULT_RELEASE_GRACE_MS,
  ) {
    this.arm(idleMs);
  }

  get state(): GateState {
    return this.current;
  }

  /** Whether a connection may still be taken. */
  get open(): boolean {
    return this.current === 'waiting' || this.current === 'grace';
  }

  /** A connection from the right peer arrived: true when it is the one this listener serves. */
  take(): boolean {
    if (!this.open) return false;
    this.finish('accepted');
    return true;
  }

  /**
   * The engine is done with the lease. `superseded`: a newer data channel of the same session
   * exists, so this one never carried a transfer and closes at once.
   */
  release(superseded = false): void {
    if (!this.open) return;
    if (superseded) {
      this.finish('closed');
    } else if (this.current === 'waiting') {
      this.current = 'grace';
      this.arm(this.graceMs);
    }
    // A second plain release (the session ending after the 226) keeps the running grace.
  }

  /** Idle timeout, listener error, or the link went away: closes unless already accepted. */
  close(): void {
    if (this.open) this.finish('closed');
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.close(), ms);
    this.timer.unref?.();
  }

  private finish(state: 'accepted' | 'closed'): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.current = state;
    this.stopListening();
  }
}

/**
 * One per FTP session (broker): tells a release that follows a transfer's final reply from one that
 * follows a newer PASV/PORT. The engine adopts a new lease before releasing the one it supersedes,
 * so a lease that is not the newest when released was superseded. (A client that pipelines a PORT
 * before the previous transfer's 226 makes that transfer's release look superseded: it then closes
 * at once, as every release did before the grace existed.)
 */
export class LeaseSequence {
  private newest: OneShotGate | undefined;

  /** Registers the newest gate; returns the lease's release function. */
  issue(gate: OneShotGate): () => void {
    this.newest = gate;
    return () => gate.release(this.newest !== gate);
  }
}

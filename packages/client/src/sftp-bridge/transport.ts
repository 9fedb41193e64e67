/**
 * The SSH-transport helpers the bridge shares with the tunnel: a listener on a random port
 * (listen-port.ts), corked writes (gatherWrites) and GC pacing by bytes moved (noteBytesMoved).
 */
export { gatherWrites, listenPort, noteBytesMoved } from '@ftpfwd/ftp-proxy/transport';

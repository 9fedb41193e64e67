// The package root is the FTP engine; the SSH transport both halves share is
// `@ftpfwd/ftp-proxy/transport`, the command-line support `@ftpfwd/ftp-proxy/cli`.
export * from './engine/index.js';

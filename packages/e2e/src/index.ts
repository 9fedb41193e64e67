export type { AgentCommand, AgentPlan, AgentStep, BackgroundCommand, StepReport } from './agent/plan.js';
export { ContainerEngineError, ensureEngine, parseEngineEnv, workspaceRoot } from './engine.js';
export * from './ftp.js';
export { type E2eImage, ensureImage } from './image.js';
export {
  PcapFormatError,
  readPcapTcp,
  streamsContaining,
  type TcpConnection,
  type TcpPacket,
  tcpConnections,
  tcpStreams,
} from './pcap.js';
export { Ipv4Subnet } from './subnet.js';
export { useTopology } from './suite.js';
export {
  Host,
  HostFailedError,
  HostLogTimeoutError,
  type HostOptions,
  type Mount,
  NatGateway,
  type NatGatewayOptions,
  OWNER_LABEL,
  removeLabelled,
  removeOrphans,
  TOPOLOGY_LABEL,
  Topology,
  type TopologyNetwork,
} from './topology.js';

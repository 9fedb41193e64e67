/** An IPv4 subnet in CIDR form, with the few operations a topology needs. Pure. */
export class Ipv4Subnet {
  private constructor(
    readonly base: number,
    readonly prefix: number,
  ) {}

  static parse(cidr: string): Ipv4Subnet {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
    if (!m) throw new Error(`expected an IPv4 CIDR like 198.51.100.0/27, got ${JSON.stringify(cidr)}`);
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32)
      throw new Error(`expected an IPv4 CIDR, got ${JSON.stringify(cidr)}`);
    const addr = octets.reduce((a, o) => a * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    return new Ipv4Subnet(addr - (addr % size), prefix);
  }

  get size(): number {
    return 2 ** (32 - this.prefix);
  }

  /** The n-th address of the subnet (n = 1 is the first host address). */
  host(n: number): string {
    if (n <= 0 || n >= this.size - 1) throw new Error(`host number ${n} is outside ${this.toString()}`);
    return toDotted(this.base + n);
  }

  contains(addr: string): boolean {
    const a = parseAddr(addr);
    return a !== undefined && a >= this.base && a < this.base + this.size;
  }

  overlaps(other: Ipv4Subnet): boolean {
    return this.base < other.base + other.size && other.base < this.base + this.size;
  }

  /** Whether the whole subnet lies in 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24 (RFC 5737). */
  isDocumentationRange(): boolean {
    return DOC_RANGES.some((r) => this.prefix >= 24 && r.contains(toDotted(this.base)));
  }

  toString(): string {
    return `${toDotted(this.base)}/${this.prefix}`;
  }
}

function parseAddr(addr: string): number | undefined {
  const parts = addr.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((a, p) => a * 256 + Number(p), 0);
}

function toDotted(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

const DOC_RANGES = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'].map((c) => Ipv4Subnet.parse(c));

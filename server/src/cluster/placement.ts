// Which node should serve a signaling connection for a room (several nodes): a room stays
// with the nodes that already have it, and a new room goes to the least loaded node. The
// node a connection landed on asks the browser to move (`moveTo`) only when another node is
// the better place; a connection that was moved once (it names its node) is never moved again.

/** Loads differing by less than this share of a core count as equal (no move for noise). */
export const NODE_LOAD_MARGIN = 0.1;

export interface NodeLoad {
  id: string;
  /** Mean measured load of its media workers (share of one core each). */
  load: number;
}

/**
 * The node to move to, or undefined to stay on `here`.
 * - The room is on `here` already, or `here` is not registered: stay.
 * - The room is on other live nodes: the least loaded of them, if it is under `maxLoad`
 *   (a room that outgrew them spreads to `here`).
 * - A new room: the least loaded live node, if it is less loaded than `here` by the margin.
 */
export function placeConnection(
  here: string,
  nodes: readonly NodeLoad[],
  roomNodes: readonly string[],
  maxLoad: number,
): string | undefined {
  const self = nodes.find((node) => node.id === here);
  if (!self || roomNodes.includes(here)) return undefined;
  const least = (candidates: NodeLoad[]) =>
    candidates.reduce<NodeLoad | undefined>(
      (best, node) => (!best || node.load < best.load ? node : best),
      undefined,
    );
  const holders = nodes.filter((node) => roomNodes.includes(node.id));
  if (holders.length > 0) {
    const best = least(holders);
    return best && best.load < maxLoad ? best.id : undefined;
  }
  const best = least(nodes.filter((node) => node.id !== here));
  return best && best.load + NODE_LOAD_MARGIN < self.load ? best.id : undefined;
}

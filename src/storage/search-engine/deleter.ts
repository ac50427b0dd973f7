/** CloudKitty's `delete` on the engines: exactly the points of a selection, walked and deleted in bulk. */
import type { Logger } from "../../logger.js";
import type { DeleteResult, PointSelection } from "../backend.js";
import { BackendError } from "../../errors.js";
import type { ClusterClient } from "./client.js";
import { selectionQuery } from "./query.js";
import type { Refresher } from "./refresher.js";
import type { PointSearch } from "./search.js";
import { dayOf } from "./rollups/rollup-calendar.js";
import type { MarksFactory } from "./writer.js";

const DELETE_PAGE = 5000;

interface BulkDeleteResponse {
  items: { delete: { status: number; result?: string; error?: { reason?: string } } }[];
}

/**
 * Deletes exactly the matching points, honouring every filter. It finds them with a point-in-time
 * walk and deletes them with `_bulk`, so it needs neither `_delete_by_query` nor the reindex module
 * (absent from minimal clusters).
 */
export class PointDeleter {
  constructor(
    private readonly client: ClusterClient,
    private readonly search: PointSearch,
    private readonly refresher: Pick<Refresher, "refresh">,
    private readonly logger: Logger,
    private readonly newMarks: MarksFactory = () => undefined,
  ) {}

  async delete(selection: PointSelection = {}): Promise<DeleteResult> {
    const query = selectionQuery(selection);
    let deleted = 0;
    const touched = new Set<string>();
    const marks = this.newMarks();
    let settled = false;
    try {
      // A PIT view keeps the walk stable while the same points are being deleted under it.
      for await (const hits of this.search.pages({ query, pageSize: DELETE_PAGE, source: false })) {
        // The days the page's points start in are marked before any of them is deleted (the sort values
        // are the point order's: start first).
        await marks?.add(hits.map((h) => dayOf(Number(h.sort![0]))));
        const body = hits.map((h) => JSON.stringify({ delete: { _index: h._index, _id: h._id } }) + "\n").join("");
        hits.forEach((h) => touched.add(h._index));
        const res = await this.client.request<BulkDeleteResponse>({ method: "POST", path: "/_bulk", bulkBody: body });
        for (const item of res.body.items) {
          if (item.delete.status === 200) deleted++;
          else if (item.delete.status !== 404)
            throw new BackendError(
              `delete failed after ${deleted} points: ${item.delete.error?.reason ?? item.delete.status}`,
              item.delete.status,
            );
        }
      }
      settled = true;
    } finally {
      // A request that failed may still be carried out: its marks stay until they expire.
      await marks?.end({ changed: deleted > 0 || !settled, settled });
    }
    this.logger.info("points deleted", { deleted, partitions: touched.size });
    // Reads through ratestore refresh before they search; this is for readers of the indices outside it.
    if (touched.size > 0) await this.refresher.refresh([...touched], "delete");
    return { deleted };
  }
}

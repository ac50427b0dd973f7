import { expect } from "chai";
import type { PointCursor, RetrieveResult } from "../../../src/storage/backend.js";
import { freshBackend } from "../../support/cluster.js";
import { HOUR, T0, manyPoints } from "../../support/data.js";
import { retrieve, total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;
const N = 25_000;
const WINDOW = { begin: T0, end: T0 + 10 * HOUR };
const ids = (r: RetrieveResult) => r.dataframes.flatMap((d) => d.points.map((p) => String(p.groupby.id)));

/** The ids of a window's points in the order a cursor walk gives: what every offset page must agree with. */
async function cursorOrder(backend: Backend, window: { begin: number; end: number }): Promise<string[]> {
  const order: string[] = [];
  let after: PointCursor | undefined;
  do {
    const page: RetrieveResult = await retrieve(backend, { ...window, limit: 5000, ...(after ? { after } : {}) });
    order.push(...ids(page));
    after = page.next;
  } while (after);
  return order;
}

/** Writes `n` points of one hour and type as another tool would: straight to the partition, with its own point ids. */
async function writeForeign(backend: Backend, start: number, n: number, type: string, idOf: (i: number) => string): Promise<void> {
  const index = backend.partitions.indexFor(start);
  let body = "";
  for (let i = 0; i < n; i++) {
    const doc = {
      "@timestamp": new Date(start).toISOString(),
      start: new Date(start).toISOString(),
      end: new Date(start + HOUR).toISOString(),
      type,
      unit: "u",
      qty: 1,
      price: 1,
      point_id: idOf(i),
      groupby: { id: `f${i}` },
      metadata: {},
    };
    body += `${JSON.stringify({ index: { _index: index } })}\n${JSON.stringify(doc)}\n`;
  }
  await backend.client.request({ method: "POST", path: "/_bulk", querystring: { refresh: "true" }, bulkBody: body });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

forEachEngine("storage: paging 25,000 points on the real node", function () {
  this.timeout(300_000);
  let backend: Backend;
  before(async () => {
    backend = await freshBackend();
    const res = await backend.push(manyPoints(N), { refresh: true });
    expect(res.stored).to.equal(N);
  });
  after(async () => backend.drop());

  it("cursor pages of 100 walk every point once, with no gap and no repeat", async () => {
    const seen = new Set<string>();
    const timings: number[] = [];
    let after: PointCursor | undefined;
    let pages = 0;
    for (;;) {
      const t = performance.now();
      const page = await retrieve(backend, { ...WINDOW, limit: 100, ...(after ? { after } : {}) });
      timings.push(performance.now() - t);
      expect(page.total).to.equal(N);
      for (const id of ids(page)) {
        expect(seen.has(id), `repeat ${id}`).to.equal(false);
        seen.add(id);
      }
      pages++;
      if (!page.next) break;
      after = page.next;
    }
    expect(seen.size).to.equal(N);
    expect(pages).to.equal(N / 100 + 1); // the last full page cannot know it was last
    const first = median(timings.slice(0, 10));
    const last = median(timings.slice(-11, -1));
    console.log(
      `      cursor paging: median of pages 1-10 ${first.toFixed(1)} ms, of pages 241-250 ${last.toFixed(1)} ms (ratio ${(last / first).toFixed(2)})`,
    );
  });

  it("offset pages of 100 walk every point once, beyond the 10,000 result window too", async () => {
    const seen = new Set<string>();
    const timings = new Map<number, number>();
    for (let offset = 0; offset < N; offset += 100) {
      const t = performance.now();
      const page = await retrieve(backend, { ...WINDOW, offset, limit: 100 });
      timings.set(offset, performance.now() - t);
      for (const id of ids(page)) seen.add(id);
    }
    expect(seen.size).to.equal(N);
    const at = (o: number) => timings.get(o)!.toFixed(1);
    console.log(`      offset paging: page at offset 0 ${at(0)} ms, 9,900 ${at(9900)} ms, 10,000 ${at(10000)} ms, 24,900 ${at(24900)} ms`);
  });

  it("offset pages inside one period-and-type group larger than the result window hold exactly the points a cursor walk has there", async () => {
    const start = T0 + 100 * HOUR;
    const size = 21_000;
    expect((await backend.push(manyPoints(size, { spanHours: 1, types: 1, start }), { refresh: true })).stored).to.equal(size);
    const window = { begin: start, end: start + HOUR };
    const order = await cursorOrder(backend, window);
    expect(order).to.have.length(size);
    // `from` counted from the start (up to 9,900), from the end (from 11,000 on; 20,950 is a short
    // page at the group's end), and between them, deeper than the window from both ends, the id range.
    for (const offset of [
      0, 499, 500, 3_999, 4_000, 6_123, 9_899, 9_900, 9_950, 10_000, 10_001, 10_450, 10_899, 10_900, 11_000, 15_555, 20_900, 20_950,
    ]) {
      const page = await retrieve(backend, { ...window, offset, limit: 100 });
      expect(page.total).to.equal(size);
      expect(ids(page), `offset ${offset}`).to.deep.equal(order.slice(offset, offset + 100));
      // The page's cursor goes on from its last point, whichever way the page was read.
      const next = await retrieve(backend, { ...window, limit: 100, ...(page.next ? { after: page.next } : {}) });
      expect(ids(next), `after the page at offset ${offset}`).to.deep.equal(
        page.next ? order.slice(offset + 100, offset + 200) : order.slice(0, 100),
      );
    }
    const seen = new Set<string>();
    for (let offset = 9_900; offset < size; offset += 100)
      for (const id of ids(await retrieve(backend, { ...window, offset, limit: 100 }))) seen.add(id);
    for (const id of ids(await retrieve(backend, { ...window, offset: 0, limit: 9_900 }))) seen.add(id);
    expect(seen.size).to.equal(size);
  });

  it("offset pages that run from one oversized group into the next start continue in point order", async () => {
    const start = T0 + 150 * HOUR;
    await backend.push(manyPoints(11_000, { spanHours: 1, types: 2, start }), { refresh: true });
    await backend.push(manyPoints(300, { spanHours: 1, types: 1, start: start + HOUR }), { refresh: true });
    const window = { begin: start, end: start + 2 * HOUR };
    const order = await cursorOrder(backend, window);
    expect(order).to.have.length(11_300);
    // 5,450-5,550 crosses from the first type to the second; 10,950-11,050 from the first start to the next.
    for (const offset of [4_500, 5_450, 10_950, 11_250]) {
      expect(ids(await retrieve(backend, { ...window, offset, limit: 100 })), `offset ${offset}`).to.deep.equal(
        order.slice(offset, offset + 100),
      );
    }
  });

  it("offset pages where periods are shorter than the hour the locate step counts by (several starts in one group)", async () => {
    const start = T0 + 170 * HOUR;
    const FIVE_MINUTES = HOUR / 12;
    const frames = Array.from({ length: 12 }, (_, k) => ({
      ...manyPoints(1_000, { spanHours: 1, types: k % 3 === 0 ? 2 : 1, start })[0]!,
      begin: start + k * FIVE_MINUTES,
      end: start + (k + 1) * FIVE_MINUTES,
    }));
    expect((await backend.push(frames, { refresh: true })).stored).to.equal(12_000);
    const window = { begin: start, end: start + HOUR };
    const order = await cursorOrder(backend, window);
    expect(order).to.have.length(12_000);
    for (const offset of [600, 950, 3_999, 4_000, 4_550, 7_990, 9_950, 10_400, 11_950]) {
      const page = await retrieve(backend, { ...window, offset, limit: 100 });
      expect(page.total).to.equal(12_000);
      expect(ids(page), `offset ${offset}`).to.deep.equal(order.slice(offset, offset + 100));
    }
  });

  it("offset pages in an oversized group still work when the ids are not ours (written by another tool)", async () => {
    const start = T0 + 200 * HOUR;
    // Larger than twice the window, so that offset 10,500 is out of `from`'s reach from both ends.
    await writeForeign(backend, start, 21_000, "foreign", (i) => `same-prefix-${String(i).padStart(6, "0")}`);
    const window = { begin: start, end: start + HOUR };
    const page = await retrieve(backend, { ...window, offset: 10_500, limit: 100 });
    expect(ids(page)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `f${10_500 + i}`));
  });

  it("offset pages in an oversized group where only some ids are ours: a guessed id range that falls short is widened, never a short page", async () => {
    const start = T0 + 250 * HOUR;
    // 10,000 points pushed (ids spread like ours) and 10,000 written by another tool into the same
    // period and type, with ids all above ours ("~" sorts after the base64url alphabet). Offset 9,950
    // is the one out of `from`'s reach from both ends: its id range is guessed, falls short, is widened.
    expect((await backend.push(manyPoints(10_000, { spanHours: 1, types: 1, start }), { refresh: true })).stored).to.equal(10_000);
    await writeForeign(backend, start, 10_000, "m0", (i) => `~${String(i).padStart(6, "0")}`);
    const window = { begin: start, end: start + HOUR };
    const order = await cursorOrder(backend, window);
    expect(order).to.have.length(20_000);
    for (const offset of [4_000, 9_000, 9_950, 10_000, 15_000]) {
      expect(ids(await retrieve(backend, { ...window, offset, limit: 100 })), `offset ${offset}`).to.deep.equal(
        order.slice(offset, offset + 100),
      );
    }
  });

  it("paginate=false and iteratePoints return every point in order", async () => {
    const all = await retrieve(backend, { ...WINDOW, paginate: false });
    expect(all.total).to.equal(N);
    expect(new Set(ids(all)).size).to.equal(N);
    let n = 0;
    let prev = -1;
    for await (const p of backend.iteratePoints(WINDOW)) {
      expect(p.begin).to.be.at.least(prev);
      prev = p.begin;
      n++;
    }
    expect(n).to.equal(N);
  });

  it("scanPoints (the export) returns the same points as the ordered walk, once each, reading in storage order where the profile says it can", async () => {
    const key = (p: { begin: number; point: { groupby: Record<string, unknown>; qty: bigint; price: bigint } }) =>
      `${p.begin}|${String(p.point.groupby.id)}|${p.point.qty}|${p.point.price}`;
    const walked: string[] = [];
    for await (const p of backend.iteratePoints(WINDOW)) walked.push(key(p));
    const sorts: unknown[] = [];
    const send = backend.client.request.bind(backend.client);
    backend.client.request = ((...args: Parameters<typeof send>) => {
      const body = args[0].body as { sort?: unknown } | undefined;
      if (body?.sort) sorts.push(body.sort);
      return send(...args);
    }) as typeof send;
    const scanned: string[] = [];
    let periodChanges = 0;
    let prev: number | undefined;
    try {
      for await (const page of backend.scanPoints(WINDOW)) {
        expect(page.length).to.be.at.most(5000);
        for (const p of page) {
          scanned.push(key(p));
          if (p.begin !== prev) periodChanges++;
          prev = p.begin;
        }
      }
    } finally {
      backend.client.request = send;
    }
    expect(scanned).to.have.length(N);
    expect(new Set(scanned).size).to.equal(N);
    expect([...scanned].sort()).to.deep.equal([...walked].sort());
    if ((await backend.health()).profile?.storageOrder === "shard_doc") {
      expect(
        sorts.every((s) => JSON.stringify(s) === '[{"_shard_doc":"asc"}]'),
        JSON.stringify(sorts[0]),
      ).to.equal(true);
      // Within each page of 5,000 the points of one period come together: at most one run per period and page.
      expect(periodChanges).to.be.at.most(10 * Math.ceil(N / 5000));
    } else {
      expect(scanned).to.deep.equal(walked);
    }
  });

  it("totals with many groups count exactly and page by offset and by cursor alike", async () => {
    const byId = await total(backend, { ...WINDOW, groupby: ["id"], limit: 1000, offset: 12_000 });
    expect(byId.total).to.equal(N);
    expect(byId.results).to.have.length(1000);
    // A cursor walk counts the groups once, on its first page; later pages carry the count and send only
    // the composite requests of their own rows (5,000 rows in one search of 5,000), after the refresh
    // every read starts with (read-your-writes); beside it, the rollup states and the partitions' mappings
    // are read by id, not searched. Every group comes once.
    let requests = 0;
    let refreshes = 0;
    const send = backend.client.request.bind(backend.client);
    backend.client.request = ((...args: Parameters<typeof send>) => {
      if (args[0].path.endsWith("/_refresh")) refreshes++;
      else if (args[0].path.endsWith("/_search")) requests++;
      return send(...args);
    }) as typeof send;
    try {
      const seen = new Set<string>();
      let page = await total(backend, { ...WINDOW, groupby: ["id"], limit: 5000 });
      const perPage: number[] = [];
      for (;;) {
        for (const r of page.results) seen.add(String(r.groups.id));
        expect(page.total).to.equal(N);
        if (!page.next) break;
        requests = 0;
        refreshes = 0;
        page = await total(backend, { ...WINDOW, groupby: ["id"], limit: 5000, after: page.next });
        perPage.push(requests);
        expect(refreshes).to.equal(1);
      }
      expect(seen.size).to.equal(N);
      expect(
        perPage.slice(0, -1).every((n) => n === 1),
        `requests per later page: ${perPage.join(",")}`,
      ).to.equal(true);
    } finally {
      backend.client.request = send;
    }
    const byProject = await total(backend, { ...WINDOW, groupby: ["project_id"], paginate: false });
    expect(byProject.total).to.equal(50);
    expect(byProject.results.reduce((a, r) => a + r.qty, 0n)).to.equal(BigInt(N) * 1_000_000_000n);
  });
});

import { expect } from "chai";
import { labelsJson, sortedKeys } from "../../src/storage/search-engine/documents.js";

describe("sortedKeys: a label map's keys in Array.prototype.sort's order", () => {
  it("orders keys exactly as the built-in sort does, for any keys a label map may hold", () => {
    // Deterministic pseudo-random keys over the label key alphabet, plus code units outside it.
    let x = 987654;
    const rand = (n: number) => (x = (x * 1103515245 + 12345) % 2 ** 31) % n;
    const alphabet = "ABCXYZabcxyz0189_-@éΩ😀";
    for (let round = 0; round < 500; round++) {
      const labels: Record<string, number> = {};
      const count = rand(130);
      for (let i = 0; i < count; i++) {
        let key = "";
        for (let len = 1 + rand(6); len > 0; len--) key += alphabet[rand(alphabet.length)];
        labels[key] = i;
      }
      const expected = Object.keys(labels).sort();
      expect(sortedKeys(labels)).to.deep.equal(expected);
    }
  });

  it("keeps integer-like keys, which objects list first, in string order", () => {
    expect(sortedKeys({ b: 1, "10": 2, a: 3, "9": 4, "": 5 })).to.deep.equal(["", "10", "9", "a", "b"]);
  });

  it("leaves the label JSON that point ids derive from as it was", () => {
    expect(labelsJson({ user_id: "u", id: "r", project_id: "p", "2": null })).to.equal(
      '{"2":null,"id":"r","project_id":"p","user_id":"u"}',
    );
  });
});

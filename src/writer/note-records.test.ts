import { describe, expect, it } from "vitest";
import { ActionBuffer } from "./action-buffer.js";
import { isCovered, NoteRecords, SUMMARY_SEQ, toRanges } from "./note-records.js";
import { slim } from "./test-support/actions.js";

describe("note records", () => {
  it("merges sequence numbers into ranges, leaving out unknown ones", () => {
    expect(toRanges([5, 1, 2, 2, 3, 0, -1, 7, 8])).toEqual([{ from: 1, to: 3 }, { from: 5, to: 5 }, { from: 7, to: 8 }]);
    expect(toRanges([])).toEqual([]);
  });

  it("counts a note covered only when one range holds all its actions; unknown and summary notes never", () => {
    const ranges = [{ from: 1, to: 3 }, { from: 5, to: 9 }];
    expect(isCovered(1, 3, ranges)).toBe(true);
    expect(isCovered(3, 5, ranges)).toBe(false); // 4 is not covered
    expect(isCovered(0, 2, ranges)).toBe(false);
    expect(isCovered(SUMMARY_SEQ, SUMMARY_SEQ, ranges)).toBe(false);
  });

  it("takes the covered notes of one conversation and can put them back first", () => {
    const records = new NoteRecords();
    records.add("p1", "c", 1, 2);
    records.add("p2", "other", 3, 3);
    records.add("p3", "c", 3, 9);
    records.add("p4", "c", 4, 4);
    const taken = records.takeCovered("c", [{ from: 1, to: 5 }]);
    expect(taken.map((r) => r.partId)).toEqual(["p1", "p4"]);
    expect(records.partIds).toEqual(["p2", "p3"]);
    records.restore(taken);
    expect(records.partIds).toEqual(["p1", "p4", "p2", "p3"]);
  });

  it("keeps sequence bounds that always hold a buffer's actions, without a number per action", () => {
    const buffer = new ActionBuffer();
    buffer.append([slim("a", 10), slim("b", 5)], 100, 7); // 7, 8
    buffer.append([slim("c", 1)], 100, 9);
    expect(buffer.seqRange()).toEqual([7, 9]);
    const part = buffer.takeNote(1, Infinity); // split: both parts keep the wider bounds
    expect(part.seqRange()).toEqual([7, 9]);
    expect(buffer.seqRange()).toEqual([7, 9]);
    const whole = buffer.takeNote(10, Infinity);
    expect(whole.seqRange()).toEqual([7, 9]);
    expect(buffer.seqRange()).toEqual([0, 0]);
    buffer.append([slim("redriven", 50)], 100); // unknown number
    expect(buffer.seqRange()[0]).toBe(0);
  });
});

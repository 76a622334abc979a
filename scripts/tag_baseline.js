#!/usr/bin/env node
// The most-frequent-tag baseline of a tagging data set (docs/DATA.md):
//   node scripts/tag_baseline.js DIR [SPLIT]      (SPLIT: test by default, or dev)
// Reads DIR/train.tsv and DIR/SPLIT.tsv (`token<TAB>tag` lines, blank between sentences).
// Each word seen in train gets its most frequent train tag (ties: the tag it had first);
// an unseen word gets the most frequent tag of train. Prints token accuracy overall and
// on the tokens whose word is seen / unseen in train.
'use strict';
const fs = require('fs');
const path = require('path');

function readTokens(file) {
  const tokens = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (line === '') return;
    const fields = line.split('\t');
    if (fields.length !== 2 || !fields[0] || !fields[1]) {
      throw new Error(`${file}:${i + 1}: expected 'token<TAB>tag'`);
    }
    tokens.push(fields);
  });
  return tokens;
}

function mostFrequentTags(train) {
  const perWord = new Map();
  const overall = new Map();
  for (const [word, tag] of train) {
    if (!perWord.has(word)) perWord.set(word, new Map());
    const counts = perWord.get(word);
    counts.set(tag, (counts.get(tag) || 0) + 1);
    overall.set(tag, (overall.get(tag) || 0) + 1);
  }
  const argmax = (counts) => [...counts].reduce((best, e) => (e[1] > best[1] ? e : best))[0];
  const guess = new Map([...perWord].map(([w, counts]) => [w, argmax(counts)]));
  return { guess, fallback: argmax(overall) };
}

function main([dir, split = 'test']) {
  if (!dir) {
    console.error('usage: tag_baseline.js DIR [SPLIT]');
    return 2;
  }
  const { guess, fallback } = mostFrequentTags(readTokens(path.join(dir, 'train.tsv')));
  const score = { seen: [0, 0], unseen: [0, 0] };
  for (const [word, tag] of readTokens(path.join(dir, `${split}.tsv`))) {
    const s = guess.has(word) ? score.seen : score.unseen;
    s[0] += (guess.get(word) || fallback) === tag ? 1 : 0;
    s[1] += 1;
  }
  const total = score.seen[1] + score.unseen[1];
  const acc = ([right, n]) => (n ? right / n : 0).toFixed(4);
  console.log(`${dir} ${split}: ${total} tokens, most-frequent-tag accuracy ` +
              `${acc([score.seen[0] + score.unseen[0], total])} ` +
              `(seen words ${acc(score.seen)}, unseen ${acc(score.unseen)}: ` +
              `${(100 * score.unseen[1] / total).toFixed(2)}% of tokens; unseen words get '${fallback}')`);
  return 0;
}
process.exitCode = main(process.argv.slice(2));

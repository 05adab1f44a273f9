// Reads {"tokenizers": [path...], "texts": [text...]} on stdin and prints, for each tokenizer,
// Hugging Face tokenizers' ids (with and without special tokens) and decodings of each text.
const { Tokenizer } = require("@anush008/tokenizers");

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const request = JSON.parse(input);
  const out = {};
  for (const path of request.tokenizers) {
    const tok = Tokenizer.fromFile(path);
    const rows = [];
    for (const text of request.texts) {
      const plain = await tok.encode(text, null, { addSpecialTokens: false });
      const special = await tok.encode(text, null, { addSpecialTokens: true });
      const ids = plain.getIds();
      rows.push({
        ids,
        ids_with_special: special.getIds(),
        decoded: await tok.decode(ids, false),
        decoded_skip_special: await tok.decode(ids, true),
      });
    }
    out[path] = rows;
  }
  process.stdout.write(JSON.stringify(out));
});

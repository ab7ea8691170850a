// crypto-js (from npm) and node:crypto on the other side of meetbox's transcript encryption.
// usage: node cryptojs.js encrypt|decrypt|gcm-encrypt SECRET TEXT
const CryptoJS = require("crypto-js");
const nodeCrypto = require("node:crypto");

const [mode, secret, text] = process.argv.slice(2);

function key(salt) {
  return CryptoJS.PBKDF2(secret, salt, { keySize: 256 / 32, iterations: 10000, hasher: CryptoJS.algo.SHA256 });
}

if (mode === "encrypt") {
  const salt = CryptoJS.lib.WordArray.random(64);
  const iv = CryptoJS.lib.WordArray.random(16);
  const sealed = CryptoJS.AES.encrypt(text, key(salt), { iv, mode: CryptoJS.mode.CBC, padding: CryptoJS.pad.Pkcs7 });
  process.stdout.write(salt.clone().concat(iv).concat(sealed.ciphertext).toString(CryptoJS.enc.Base64));
} else if (mode === "decrypt") {
  const all = CryptoJS.enc.Base64.parse(text);
  const salt = CryptoJS.lib.WordArray.create(all.words.slice(0, 16), 64);
  const iv = CryptoJS.lib.WordArray.create(all.words.slice(16, 20), 16);
  const ciphertext = CryptoJS.lib.WordArray.create(all.words.slice(20), all.sigBytes - 80);
  const plain = CryptoJS.AES.decrypt({ ciphertext }, key(salt), { iv, mode: CryptoJS.mode.CBC, padding: CryptoJS.pad.Pkcs7 });
  process.stdout.write(plain.toString(CryptoJS.enc.Utf8));
} else if (mode === "gcm-encrypt") {
  // the legacy format: salt[64] iv[16] tag[16] ciphertext, key PBKDF2-SHA512 10,000
  const salt = nodeCrypto.randomBytes(64);
  const iv = nodeCrypto.randomBytes(16);
  const k = nodeCrypto.pbkdf2Sync(secret, salt, 10000, 32, "sha512");
  const cipher = nodeCrypto.createCipheriv("aes-256-gcm", k, iv);
  const sealed = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  process.stdout.write(Buffer.concat([salt, iv, cipher.getAuthTag(), sealed]).toString("base64"));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

// aws-jwt-verify's AlbJwtVerifier, as an app uses it, with its jwksUri pointed
// at the sidecar's key endpoint base ({proxy-prefix}/alb-public-keys): it
// fetches `${jwksUri}/${kid}` over https and reads the PEM there.
//
// Reads {"base", "signer", "client", "issuer", "tokens": {name: token}} as JSON
// on stdin; prints {name: {"ok": payload} | {"refused": "Error: message"}}.
import { AlbJwtVerifier } from "aws-jwt-verify";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const verifier = AlbJwtVerifier.create({
  albArn: job.signer,
  issuer: job.issuer,
  clientId: job.client,
  jwksUri: job.base,
});

const results = {};
for (const [name, token] of Object.entries(job.tokens)) {
  try {
    results[name] = { ok: await verifier.verify(token) };
  } catch (error) {
    results[name] = { refused: `${error.constructor?.name ?? error.name}: ${error.message}` };
  }
}
process.stdout.write(JSON.stringify(results));

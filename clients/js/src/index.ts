// Switchboard's browser SDK (connect) and typed backend client (createClient).
export * from "./connect.js";
export * from "./client.js";

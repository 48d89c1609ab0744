import { defineConfig } from "drizzle-kit";

// `bun run db:generate` turns runtime/db/schema.ts into SQL files in migrations/.
export default defineConfig({
  dialect: "postgresql",
  schema: "./runtime/db/schema.ts",
  out: "./migrations",
});

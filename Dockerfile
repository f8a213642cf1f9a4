# batchgate: one image for every role. Build: docker build -t batchgate .   Run: see docker-compose.yml
#   gateway (default):  node bin/batchgate.js start [--config …]
#   worker:             node bin/batchgate.js worker --config config/distributed.yaml

# Build stage: every dependency (TypeScript included), then the compiled package in dist/. `npm ci` runs
# the package's `prepare` script, which is `npm run build`, so the sources must be here before it.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY adapters ./adapters
RUN npm ci --no-audit --no-fund
# Dev tools (TypeScript, vitest, playwright-core…) leave before node_modules is copied to the runtime image.
# tsx stays: it is a runtime dependency, loaded only when a TypeScript processor module is configured.
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# Embedded mode keeps its crash journal here; the process runs as `node`, so it must own the directory.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# Listen on all interfaces inside the container; the admin API then needs BATCHGATE_ADMIN_TOKEN.
ENV HOST=0.0.0.0 PORT=8787
EXPOSE 8787
VOLUME ["/app/data"]
# node directly (not npm) so SIGTERM from `docker stop` reaches the process and it drains (and journals what waits).
# bin/batchgate.js runs the compiled dist/src/main.js: no TypeScript is transpiled at start-up.
CMD ["node", "bin/batchgate.js", "start"]

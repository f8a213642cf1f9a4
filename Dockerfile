# batchgate: one image for every role. Build: docker build -t batchgate .   Run: see docker-compose.yml
#   gateway (default):  node bin/batchgate.js start [--config …]
#   worker:             node bin/batchgate.js worker --config config/distributed.yaml

# Dependencies in their own stage: npm's cache and the lockfile install never reach the runtime image.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Dev tools (vitest, playwright-core…) stay out of the image; tsx runs the TypeScript sources.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
COPY config ./config
# Embedded mode writes its shutdown spool here; the process runs as `node`, so it must own the directory.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# Listen on all interfaces inside the container; the admin API then needs BATCHGATE_ADMIN_TOKEN.
ENV HOST=0.0.0.0 PORT=8787
EXPOSE 8787
VOLUME ["/app/data"]
# node directly (not npm) so SIGTERM from `docker stop` reaches the process and it drains (and spools).
CMD ["node", "bin/batchgate.js", "start"]

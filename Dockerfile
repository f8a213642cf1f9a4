# batchgate, embedded mode. Build: docker build -t batchgate .   Run: see docker-compose.yml
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev tools (vitest, playwright-core…) stay out of the image; tsx runs the TypeScript sources.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
COPY config ./config
COPY tsconfig.json ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# Listen on all interfaces inside the container; the admin API then needs BATCHGATE_ADMIN_TOKEN.
ENV HOST=0.0.0.0 PORT=8787
EXPOSE 8787
VOLUME ["/app/data"]
# node directly (not npm) so SIGTERM from `docker stop` reaches the gateway and it drains and spools.
CMD ["node", "bin/batchgate.js", "start"]

# The Node.js image: Docker Hub's official Node.js 24 (LTS) image. scripts/container-check.sh builds on a
# local base made from Debian bookworm and Node.js's official binary, where no registry is reachable.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
WORKDIR /app
# HOST: the service listens on 127.0.0.1 by default, which a published port cannot reach in a container.
ENV NODE_ENV=production HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY index-templates ./index-templates
COPY dashboards ./dashboards
USER node
EXPOSE 8080
# Node's own fetch: no extra package for the health check.
HEALTHCHECK --interval=10s --timeout=5s --retries=12 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

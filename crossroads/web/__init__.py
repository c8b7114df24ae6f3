"""The pages the router serves itself: `/models` and one page per model, drawn in the browser
from the JSON twins under `/api/v1` with the vendored Chart.js; no build step."""

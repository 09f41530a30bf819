/** The local dashboard: `GET /dashboard`, its assets, and `GET /api/alarms`. */
export { ALARM_SAMPLE_INTERVAL_MS, CONTENT_SECURITY_POLICY, dashboardRoutes, type DashboardSource } from './routes.ts';
export { CSRF_META, renderDashboard, type DashboardPageInput } from './page.ts';

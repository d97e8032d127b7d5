<?php
// tend: run WordPress's database upgrade after new core files are in place, as
// `wp core update-db` and wp-admin/upgrade.php do. WP_INSTALLING keeps plugins from
// loading (wp_get_active_and_valid_plugins() returns none while installing), so a broken
// plugin cannot stop the upgrade, and maintenance mode does not apply to it.
define('WP_INSTALLING', true);
$url = parse_url($params['url']);
$_SERVER['HTTP_HOST'] = $url['host'] . (isset($url['port']) ? ':' . $url['port'] : '');
$_SERVER['SERVER_NAME'] = $url['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if (($url['scheme'] ?? 'http') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}
ob_start();
require './wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
global $wp_db_version, $wpdb;
$before = (string) get_option('db_version');
wp_upgrade();
wp_cache_flush();
$after = (string) $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = 'db_version'");
$noise = ob_get_clean();
echo json_encode(array(
    'before' => $before,
    'after' => $after,
    'code' => (string) $wp_db_version,
    'output' => substr($noise, 0, 2000),
));

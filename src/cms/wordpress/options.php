<?php
// Reads the options tend needs from a WordPress site's database, without loading WordPress.
// Parameters ($params) arrive inside this script on stdin, never on the command line.
// Answers one JSON document on stdout; errors go to stderr with a non-zero exit status.
error_reporting(E_ALL & ~E_DEPRECATED);
// PHP defines no STDERR constant for a program read from stdin.
$stderr = fopen('php://stderr', 'w');
if (!function_exists('mysqli_init')) {
    fwrite($stderr, "the PHP on this host has no mysqli extension\n");
    exit(2);
}
mysqli_report(MYSQLI_REPORT_OFF);
$db = mysqli_init();
$port = isset($params['port']) ? (int) $params['port'] : (int) ini_get('mysqli.default_port');
$socket = isset($params['socket']) ? $params['socket'] : null;
if (!@$db->real_connect($params['host'], $params['user'], $params['password'], $params['name'], $port, $socket)) {
    fwrite($stderr, "cannot connect to the site's database: " . mysqli_connect_error() . "\n");
    exit(3);
}
$db->set_charset('utf8mb4');
$table = '`' . str_replace('`', '``', $params['prefix'] . 'options') . '`';
$result = $db->query("SELECT option_name, option_value FROM $table WHERE option_name IN ('active_plugins', 'template', 'stylesheet', 'db_version')");
if (!$result) {
    fwrite($stderr, "cannot read $table: " . $db->error . "\n");
    exit(4);
}
$options = array();
while ($row = $result->fetch_assoc()) {
    $value = $row['option_value'];
    if ($row['option_name'] === 'active_plugins') {
        $value = @unserialize($value, array('allowed_classes' => false));
        $value = is_array($value) ? array_values(array_filter($value, 'is_string')) : array();
    }
    $options[$row['option_name']] = $value;
}
echo json_encode(array('php_version' => PHP_VERSION, 'options' => (object) $options)), "\n";

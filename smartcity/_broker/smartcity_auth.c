/*
 * smartcity's Mosquitto plugin: who may use which client id, and accounts that expire.
 *
 * Mosquitto lets any authenticated (or anonymous) client connect with any client id,
 * and a second connection with an id in use takes the first one's place and its queued
 * messages. This plugin binds ids to accounts before the password file is consulted:
 *
 *   - ids starting with the reserved prefix (plugin_opt_reserved_prefix, "smartcity-")
 *     belong to the service accounts (plugin_opt_service_users, comma separated);
 *   - a class account "<class>.<member>" may use its own name as id, or "<name>:<suffix>";
 *   - any other client (anonymous included) may not use an id holding a '.', the class
 *     accounts' namespace;
 *   - an account listed in plugin_opt_expiry_file ("username epoch-seconds" per line,
 *     re-read on SIGHUP) is refused from that second on, and kicked off at that second.
 *
 * Everything it allows is then checked by the password and ACL files as usual
 * (MOSQ_ERR_PLUGIN_DEFER). Built by smartcity/_mosquitto.py against Debian's
 * mosquitto-dev headers; plugin API version 5 (Mosquitto 2.0).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_NAME 128

struct expiry {
	char username[MAX_NAME];
	time_t expires_s;
	bool kicked;
};

static mosquitto_plugin_id_t *plugin_id = NULL;
static char reserved_prefix[MAX_NAME] = "smartcity-";
static char *service_users = NULL; /* ",a,b," for a whole-word search */
static char *expiry_path = NULL;
static struct expiry *expiries = NULL;
static size_t expiry_count = 0;
static time_t last_tick_s = 0;

static bool is_service(const char *username)
{
	char needle[MAX_NAME + 2];
	if(username == NULL || service_users == NULL || strlen(username) >= MAX_NAME) return false;
	snprintf(needle, sizeof(needle), ",%s,", username);
	return strstr(service_users, needle) != NULL;
}

static void read_expiries(void)
{
	FILE *f;
	char line[MAX_NAME + 64];
	size_t capacity = 0;

	free(expiries);
	expiries = NULL;
	expiry_count = 0;
	if(expiry_path == NULL) return;
	f = fopen(expiry_path, "r");
	if(f == NULL) return; /* no file: nobody expires */
	while(fgets(line, sizeof(line), f)){
		char name[MAX_NAME];
		long long when;
		if(sscanf(line, "%127s %lld", name, &when) != 2) continue;
		if(expiry_count == capacity){
			size_t bigger = capacity ? capacity * 2 : 64;
			struct expiry *grown = realloc(expiries, bigger * sizeof(*grown));
			if(grown == NULL) break;
			expiries = grown;
			capacity = bigger;
		}
		snprintf(expiries[expiry_count].username, MAX_NAME, "%s", name);
		expiries[expiry_count].expires_s = (time_t)when;
		expiries[expiry_count].kicked = false;
		expiry_count++;
	}
	fclose(f);
}

static bool expired(const char *username, time_t now_s)
{
	for(size_t i = 0; i < expiry_count; i++){
		if(!strcmp(expiries[i].username, username)) return expiries[i].expires_s <= now_s;
	}
	return false;
}

static int refuse(const char *why, const char *username, const char *client_id)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "smartcity_auth: refused client id '%s' for %s: %s",
			client_id, username ? username : "an anonymous client", why);
	return MOSQ_ERR_AUTH;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *id = mosquitto_client_id(ed->client);
	const char *user = ed->username;
	(void)event;
	(void)userdata;

	if(id == NULL) return refuse("no client id", user, "");
	if(is_service(user)) return MOSQ_ERR_PLUGIN_DEFER;
	if(reserved_prefix[0] && !strncmp(id, reserved_prefix, strlen(reserved_prefix))){
		return refuse("the prefix is reserved for smartcity's services", user, id);
	}
	if(user != NULL && strchr(user, '.') != NULL){
		size_t n = strlen(user);
		if(strcmp(id, user) && !(strncmp(id, user, n) == 0 && id[n] == ':')){
			return refuse("a class account connects as its username (or username:suffix)", user, id);
		}
		if(expired(user, time(NULL))) return refuse("the account has expired", user, id);
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(strchr(id, '.') != NULL){
		return refuse("ids holding '.' belong to class accounts", user, id);
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	time_t now_s = time(NULL);
	(void)event;
	(void)event_data;
	(void)userdata;
	if(now_s == last_tick_s) return MOSQ_ERR_SUCCESS;
	last_tick_s = now_s;
	for(size_t i = 0; i < expiry_count; i++){
		if(!expiries[i].kicked && expiries[i].expires_s <= now_s){
			expiries[i].kicked = true;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "smartcity_auth: %s expired; disconnecting it",
					expiries[i].username);
			mosquitto_kick_client_by_username(expiries[i].username, false);
		}
	}
	return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	read_expiries();
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	for(int i = 0; i < option_count; i++){
		if(!strcmp(options[i].key, "reserved_prefix")){
			snprintf(reserved_prefix, sizeof(reserved_prefix), "%s", options[i].value);
		}else if(!strcmp(options[i].key, "service_users")){
			size_t n = strlen(options[i].value) + 3;
			service_users = malloc(n);
			if(service_users == NULL) return MOSQ_ERR_NOMEM;
			snprintf(service_users, n, ",%s,", options[i].value);
		}else if(!strcmp(options[i].key, "expiry_file")){
			expiry_path = strdup(options[i].value);
		}
	}
	read_expiries();
	if(mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_TICK, on_tick, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL)){
		return MOSQ_ERR_UNKNOWN;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
	free(service_users);
	free(expiry_path);
	free(expiries);
	return MOSQ_ERR_SUCCESS;
}

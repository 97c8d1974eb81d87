from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestSpokiUi(HttpCase):
    """The WhatsApp menus open in a real (headless Chromium) web client."""

    def _open(self, action_xmlid, selector, login="admin"):
        action = self.env.ref(action_xmlid)
        code = """
            const deadline = Date.now() + 20000;
            const check = () => {
                const el = document.querySelector(%r);
                if (el) { console.log('test successful'); return; }
                if (document.querySelector('.o_error_dialog')) {
                    console.error('error dialog: ' + document.querySelector('.o_error_dialog').innerText);
                    return;
                }
                if (Date.now() > deadline) { console.error('%s not rendered'); return; }
                setTimeout(check, 100);
            };
            check();
        """ % (selector, selector)
        self.browser_js(f"/odoo/action-{action.id}", code, login=login, timeout=40)

    def test_contacts_list_opens(self):
        self._open("spoki_whatsapp.res_partner_action_spoki", ".o_list_view .o_data_row")

    def test_lists_and_accounts_open(self):
        self._open("spoki_whatsapp.spoki_list_action", ".o_list_view .o_data_row")
        self._open("spoki_whatsapp.spoki_account_action", ".o_list_view .o_data_row")
        self._open("spoki_whatsapp.spoki_dynamic_field_action", ".o_list_view .o_data_row")

    def test_contact_form_whatsapp_tab(self):
        partner = self.env.ref("spoki_whatsapp.demo_partner_mario")
        action = self.env.ref("spoki_whatsapp.res_partner_action_spoki")
        code = """
            const deadline = Date.now() + 20000;
            const check = () => {
                const tab = [...document.querySelectorAll('.o_notebook .nav-link')]
                    .find(a => a.textContent.trim() === 'WhatsApp');
                const chat = document.querySelector('button[name="action_spoki_open_chat"]');
                if (tab && chat) { console.log('test successful'); return; }
                if (Date.now() > deadline) { console.error('WhatsApp tab or Go to chat missing'); return; }
                setTimeout(check, 100);
            };
            check();
        """
        self.browser_js(f"/odoo/action-{action.id}/{partner.id}", code, login="admin", timeout=40)
